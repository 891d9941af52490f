/**
 * The names under which a response can carry another user's payment handle (API.md): the trade's
 * `travelerWechatId`, and the fields an operator's reveal names.
 */
const HANDLE_KEYS: ReadonlySet<string> = new Set(['travelerWechatId', 'counterpartyWechatId', 'counterpartyPaypalEmail']);

/**
 * A response as it may be kept for idempotent replays: without payment handles, at any depth. A handle is shown
 * only where `GET /v1/trades/:id` shows it at that moment, so a replay (up to 24 h later, whatever the trade's
 * state by then) never carries one; the caller reads the trade for it.
 */
export function withoutPaymentHandles(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(withoutPaymentHandles);
  if (body === null || typeof body !== 'object') return body;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (!HANDLE_KEYS.has(key)) kept[key] = withoutPaymentHandles(value);
  }
  return kept;
}

/** A response without the top-level fields a route shows only once (`@ShownOnce`). */
export function withoutShownOnce(body: unknown, fields: readonly string[]): unknown {
  if (fields.length === 0 || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(Object.entries(body as Record<string, unknown>).filter(([key]) => !fields.includes(key)));
}
