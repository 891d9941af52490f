import { createHmac, timingSafeEqual } from 'node:crypto';

/** How old a signed callback may be; older ones are refused as replays (API.md: five minutes). */
export const SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

/**
 * The `X-Signature` scheme of our client webhooks and the bank's callbacks: `t=<unix seconds>,v1=<hex
 * HMAC-SHA256 of "<t>.<raw body>">`. The time is inside what is signed, so an old signature cannot be
 * replayed with a fresh time.
 */
export function signPayload(secret: string, rawBody: Buffer | string, now = Date.now()): string {
  const t = Math.floor(now / 1000);
  return `t=${t},v1=${mac(secret, t, rawBody)}`;
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

export function verifyPayload(
  secret: string,
  header: string | undefined,
  rawBody: Buffer | string,
  now = Date.now(),
  toleranceMs = SIGNATURE_TOLERANCE_MS,
): SignatureVerdict {
  if (!header) return { ok: false, reason: 'missing' };
  const parts = new Map<string, string[]>();
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) return { ok: false, reason: 'malformed' };
    const key = part.slice(0, at).trim();
    parts.set(key, [...(parts.get(key) ?? []), part.slice(at + 1).trim()]);
  }
  const t = parts.get('t');
  const signatures = parts.get('v1') ?? [];
  if (!t || t.length !== 1 || !/^\d{1,12}$/.test(t[0]) || signatures.length === 0) return { ok: false, reason: 'malformed' };
  const seconds = Number(t[0]);
  if (Math.abs(now - seconds * 1000) > toleranceMs) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(mac(secret, seconds, rawBody), 'hex');
  // Several v1 values are allowed so a secret can be rotated: any one that matches will do.
  const matches = signatures.some((candidate) => {
    if (!/^[0-9a-f]{64}$/i.test(candidate)) return false;
    return timingSafeEqual(Buffer.from(candidate, 'hex'), expected);
  });
  return matches ? { ok: true } : { ok: false, reason: 'mismatch' };
}

function mac(secret: string, t: number, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest('hex');
}
