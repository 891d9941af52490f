/** The stable `code`s of API.md's table, with their HTTP status and a short title. */
export const ERROR_CODES = {
  validation_failed: { status: 400, title: 'Validation failed' },
  malformed_json: { status: 400, title: 'Malformed JSON body' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  bad_request: { status: 400, title: 'Bad request' },
  unauthenticated: { status: 401, title: 'Unauthenticated' },
  invalid_signature: { status: 401, title: 'Invalid signature' },
  forbidden: { status: 403, title: 'Forbidden' },
  account_suspended: { status: 403, title: 'Account suspended' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  email_taken: { status: 409, title: 'Email already registered' },
  invalid_state_transition: { status: 409, title: 'Invalid state transition' },
  insufficient_amount: { status: 409, title: 'Insufficient amount' },
  below_min_fill: { status: 400, title: 'Below minimum fill' },
  amount_out_of_range: { status: 400, title: 'Amount out of range' },
  rate_out_of_bounds: { status: 400, title: 'Rate out of bounds' },
  self_trade: { status: 409, title: 'Self-trade' },
  daily_limit_exceeded: { status: 409, title: 'Daily limit exceeded' },
  open_trades_limit: { status: 409, title: 'Open trades limit' },
  reference_rate_stale: { status: 503, title: 'Reference rate stale' },
  maker_suspended: { status: 409, title: 'Maker suspended' },
  missing_payment_details: { status: 409, title: 'Missing payment details' },
  split_mismatch: { status: 400, title: 'Split mismatch' },
  wechat_transfer_used: { status: 409, title: 'WeChat transfer already used' },
  too_many_statements: { status: 409, title: 'Too many statements' },
  dispute_assigned: { status: 409, title: 'Dispute held by another operator' },
  already_rated: { status: 409, title: 'Already rated' },
  /** The trade's payment handles were erased after their retention period (HANDLE_RETENTION_MS): nothing to reveal. */
  handle_erased: { status: 409, title: 'Payment handle erased' },
  wallet_locked: { status: 409, title: 'Payment handle locked' },
  /** The trade ended longer ago than MESSAGE_WINDOW_AFTER_END_MS: it takes no more messages. */
  trade_closed: { status: 409, title: 'Trade closed' },
  idempotency_key_in_use: { status: 409, title: 'Idempotency key in use' },
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused' },
  live_trades: { status: 409, title: 'Account has live trades' },
  /** Not http(s), or its host does not resolve, or resolves to an address that is not public (unless WEBHOOK_ALLOWED_HOSTS names it). */
  webhook_url_not_allowed: { status: 400, title: 'Webhook URL not allowed' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal server error' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  /** The database gave up for load (no pooled connection in time, a statement or lock timeout): retry after Retry-After. */
  service_busy: { status: 503, title: 'Service busy' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The code a bare HTTP status maps to when nothing more specific is known. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    case 503:
      return 'service_unavailable';
    default:
      return status >= 500 ? 'internal_error' : 'bad_request';
  }
}
