import { ERROR_CODES, ErrorCode } from './error-codes';

/** Where a problem's `type` points: a page the service serves (a relative reference, RFC 9457 §3.1.1). */
export const PROBLEM_TYPE_PATH = '/problems';

export function problemType(code: ErrorCode): string {
  return `${PROBLEM_TYPE_PATH}/${code}`;
}

interface ProblemTypeDoc {
  /** When the service answers with it (API.md's table of error codes, where it is listed). */
  meaning: string;
  /** What a client does about it. */
  remedy: string;
}

/** One entry per code: a code without a page does not compile. */
const DOCS: Record<ErrorCode, ProblemTypeDoc> = {
  validation_failed: {
    meaning:
      'A body, query or path value is malformed. The errors member lists each bad field as {field, code, message}, field being a JSON path such as price.rate.',
    remedy: 'Correct the fields listed and send the request again. Money is a decimal string with at most 2 decimals, never a JSON number.',
  },
  malformed_json: {
    meaning: 'The request body is not valid JSON, is nested too deeply, or holds text that is not Unicode.',
    remedy: 'Send a well-formed JSON document.',
  },
  unsupported_media_type: {
    meaning: 'A /v1 request came with a body that is not JSON (a form, text/plain, multipart…).',
    remedy: 'Send the body as JSON with Content-Type: application/json (or a +json type).',
  },
  payload_too_large: { meaning: 'The request body is larger than the service accepts.', remedy: 'Send a smaller body.' },
  bad_request: {
    meaning: 'The request could not be understood (not valid HTTP, headers too large, or a body that does not match its length).',
    remedy: 'Check what your HTTP client sends.',
  },
  unauthenticated: {
    meaning:
      'No, bad or expired credentials. WWW-Authenticate and the detail say which: no credentials, an invalid token, an expired token, or a wrong API key.',
    remedy: 'Send Authorization: Bearer <accessToken> from POST /v1/auth/login (sign in again when it expired) or X-Api-Key: <key>.',
  },
  invalid_signature: {
    meaning: 'A provider callback that is unsigned, forged, or stale (its timestamp more than 5 minutes off).',
    remedy: 'Only the payment providers call these endpoints; check the signing secret and the clock.',
  },
  forbidden: {
    meaning: "The caller's role may not do this, or an API key was used where a password sign-in is needed, or beyond its scope.",
    remedy: 'Use an account with the right role, or a token from a password sign-in.',
  },
  account_suspended: {
    meaning: 'The caller is suspended: it may only finish its live trades.',
    remedy: 'Contact the operators.',
  },
  not_found: {
    meaning: 'No such resource, or the caller may not see it.',
    remedy: 'Check the id and that you are a party to the resource.',
  },
  method_not_allowed: {
    meaning: 'The path exists, with other methods. The Allow header lists them.',
    remedy: 'Use one of the methods in Allow.',
  },
  conflict: { meaning: 'The request conflicts with the current state of the resource.', remedy: 'Read the resource again and retry.' },
  email_taken: { meaning: 'An account with this email already exists.', remedy: 'Sign in instead, or register with another email.' },
  invalid_state_transition: {
    meaning: 'The resource is not in a state that allows this; the detail names its current state.',
    remedy: 'Read the resource and act according to its state.',
  },
  insufficient_amount: {
    meaning: "More than the request's or offer's remaining CNY (a filled request, an exhausted offer).",
    remedy: 'Ask for less, or pick another request or offer.',
  },
  below_min_fill: {
    meaning: "Less than the request's minFillCny (a remainder smaller than it may be taken whole).",
    remedy: 'Ask for at least minFillCny, or the whole remainder.',
  },
  amount_out_of_range: { meaning: "Outside the offer's minCny..maxCny.", remedy: "Ask for an amount within the offer's range." },
  rate_out_of_bounds: {
    meaning: 'The effective rate is further from the reference rate than allowed (by default 5%, either way).',
    remedy: 'Price closer to the reference rate (GET /v1/rates/usd-cny).',
  },
  self_trade: {
    meaning: 'The two parties are one user, or share a WeChat wallet or PayPal email.',
    remedy: 'Trade with another user.',
  },
  daily_limit_exceeded: {
    meaning: "The trade would exceed a party's daily USD limit for their tier; the detail says whether the caller's or the maker's.",
    remedy: 'Trade a smaller amount, or wait until the limit frees up.',
  },
  open_trades_limit: {
    meaning: "A party has as many open trades as their tier allows; the detail says whether the caller's or the maker's.",
    remedy: 'Finish or cancel open trades first.',
  },
  reference_rate_stale: {
    meaning: 'The reference rate is older than allowed: no trade and no fixed-price posting until the feed recovers.',
    remedy: 'Retry after the seconds in Retry-After.',
  },
  maker_suspended: { meaning: "The request's or offer's maker is suspended.", remedy: 'Pick another request or offer.' },
  missing_payment_details: {
    meaning: 'A party lacks what the trade needs on file (traveler: WeChat wallet; counterparty: WeChat wallet and payout account).',
    remedy: 'Set them with PUT /v1/me/wechat-wallet and PUT /v1/me/payout-account.',
  },
  split_mismatch: {
    meaning: "A split's two amounts do not add up to the trade's USD.",
    remedy: "Give two amounts, each above zero, that add up to the trade's amountUsd exactly.",
  },
  wechat_transfer_used: {
    meaning: 'That WeChat transfer id already settles another trade.',
    remedy: 'Report the transfer id of the transfer made for this trade.',
  },
  too_many_statements: { meaning: "The dispute's statement limit is reached.", remedy: 'Wait for the operator.' },
  dispute_assigned: {
    meaning: 'The dispute is assigned to another operator.',
    remedy: 'Leave it to them, or take it over with force: true (audited).',
  },
  already_rated: { meaning: 'The caller has rated this trade.', remedy: 'Nothing: a trade is rated once.' },
  handle_erased: {
    meaning: "The trade's payment handles were erased after their retention period: there is nothing to reveal.",
    remedy: 'Nothing can bring them back.',
  },
  wallet_locked: {
    meaning: 'A payment handle cannot change while its owner has a live trade, an open request or an offer that is not closed.',
    remedy: 'Finish the trades and close the requests and offers first.',
  },
  trade_closed: {
    meaning: 'The trade ended too long ago for this (a message more than 7 days after its end).',
    remedy: 'Nothing: the trade takes no more messages.',
  },
  idempotency_key_in_use: {
    meaning: 'A request with this Idempotency-Key is still running.',
    remedy: 'Wait, then retry with the same key to get its answer.',
  },
  idempotency_key_reused: {
    meaning: 'The Idempotency-Key was used with a different body or on another path.',
    remedy: 'Use a new key for a new request.',
  },
  live_trades: {
    meaning: 'An account with a live or disputed trade, or with money of a trade still owed to or by it, cannot be deleted.',
    remedy: 'Finish the trades first.',
  },
  webhook_url_not_allowed: {
    meaning:
      'A webhook URL that is not http(s), whose host does not resolve, or resolves to a loopback, unspecified, private, link-local, multicast or metadata address.',
    remedy: 'Give a public http(s) URL.',
  },
  rate_limited: {
    meaning: 'Too many requests, or too many failed sign-ins for one account.',
    remedy: 'Come back after the seconds in Retry-After.',
  },
  internal_error: {
    meaning: 'The service failed to complete the request.',
    remedy: 'Retry later; quote the instance member if it keeps happening.',
  },
  service_busy: {
    meaning: 'The service is overloaded: the database could not take the request in time.',
    remedy: 'Retry after the seconds in Retry-After, with the same Idempotency-Key for a POST.',
  },
  service_unavailable: {
    meaning: 'A service the request needs (the database, a provider) is not answering.',
    remedy: 'Retry after the seconds in Retry-After.',
  },
};

export function isProblemCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The page a problem's `type` points to: self-contained (no script, no external asset), text only. */
export function problemTypePage(code: ErrorCode): string {
  const { status, title } = ERROR_CODES[code];
  const { meaning, remedy } = DOCS[code];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} (${status}) · Yuanbridge API</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2em}dt{font-weight:600}</style>
</head><body><main>
<h1>${escapeHtml(title)}</h1>
<dl><dt>code</dt><dd><code>${code}</code></dd><dt>HTTP status</dt><dd>${status}</dd>
<dt>What it means</dt><dd>${escapeHtml(meaning)}</dd><dt>What to do</dt><dd>${escapeHtml(remedy)}</dd></dl>
<p>Errors are RFC 9457 problem details (<code>application/problem+json</code>) with <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>, <code>code</code> and <code>instance</code> (quote it when you ask for help).</p>
</main></body></html>
`;
}
