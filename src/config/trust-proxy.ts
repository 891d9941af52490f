import { isIP } from 'node:net';
import type { EnvReader } from './env';

/**
 * Which peers may set the client address through `X-Forwarded-For`, in the form Fastify's `trustProxy` takes:
 * `false` (none: the socket's address is the client), a number of proxy hops in front of the service, or a
 * list of proxy addresses and CIDR ranges. Never "every hop": then the left-most entry, which the client
 * writes, would be its address, and each forged value a fresh rate-limit budget.
 */
export type TrustProxy = false | number | string[];

const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];
const MAX_HOPS = 10;

/**
 * Reads `TRUST_PROXY`: unset, `false` or `0` → none; `true` → 1 hop (the old boolean, which trusted every hop,
 * now means one proxy); `n` → n hops; otherwise a comma list of IP addresses, CIDRs (`10.0.0.0/8`) or
 * `loopback`, `linklocal`, `uniquelocal`.
 */
export function readTrustProxy(read: EnvReader, name = 'TRUST_PROXY'): TrustProxy {
  const raw = read.optionalString(name);
  if (raw === undefined) return false;
  const value = raw.toLowerCase();
  if (['false', 'no', 'off'].includes(value)) return false;
  if (['true', 'yes', 'on'].includes(value)) return 1;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_HOPS) read.fail(`${name} must be at most ${MAX_HOPS} hops, got ${hops}`);
    return hops === 0 ? false : Math.min(hops, MAX_HOPS);
  }
  const entries = read.list(name);
  const bad = entries.filter((entry) => !isTrustedProxyEntry(entry));
  if (bad.length > 0 || entries.length === 0) {
    read.fail(`${name} must be false, a number of hops, or a comma list of IP addresses or CIDRs, got "${raw}"`);
    return false;
  }
  return entries;
}

function isTrustedProxyEntry(entry: string): boolean {
  if (NAMED_RANGES.includes(entry.toLowerCase())) return true;
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address);
  // No zone ids (fe80::1%eth0): Fastify's parser refuses them, and the service would not start.
  if (family === 0 || rest.length > 0 || address.includes('%')) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  // Not /0: trusting every address is trusting every hop.
  return Number(bits) >= 1 && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * The option for Fastify. A hop count is given as a function (trust the socket's peer and the entries the
 * next n-1 proxies appended), as proxy-addr did: Fastify itself now takes a bare number to mean no proxy.
 * A count cannot check who the peer is, so it is only right when nothing reaches the service but its
 * proxies; otherwise name them by address.
 */
export function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return trust;
}
