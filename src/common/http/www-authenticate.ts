/** The realm every Bearer challenge names (RFC 6750 §3). */
export const BEARER_REALM = 'yuanbridge';

/**
 * A `WWW-Authenticate: Bearer` challenge (RFC 6750 §3): the realm alone when no credentials came, with
 * `error` and `error_description` when a token came and was refused. Values are fixed texts of ours, never
 * the client's input, so they need no escaping.
 */
export function bearerChallenge(refusal: { error?: 'invalid_token' | 'invalid_request'; description?: string }): string {
  const params = [`realm="${BEARER_REALM}"`];
  if (refusal.error) params.push(`error="${refusal.error}"`);
  if (refusal.description) params.push(`error_description="${refusal.description}"`);
  return `Bearer ${params.join(', ')}`;
}
