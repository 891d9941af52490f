import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressRefusal } from './public-address';

/** A URL whose host was resolved and checked: a request to it connects to `address`, and to nothing else. */
export interface CheckedTarget {
  url: URL;
  /** The URL's host name without IPv6 brackets, for the Host header and TLS's server name. */
  hostname: string;
  address: string;
  family: 4 | 6;
}

/** Why a URL is not one the service sends requests to; the message names no part of the URL but its scheme. */
export class TargetRefused extends Error {
  override readonly name = 'TargetRefused';
}

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Host names (or IP addresses) matched case-insensitively against a URL's host, any port; IPv6 with or without brackets. */
export function hostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return allowedHosts.some((host) => host.replace(/^\[(.*)\]$/, '$1').toLowerCase() === bare);
}

/**
 * Parses a client's URL and resolves its host: `http` or `https`, no credentials in it, and every address the
 * host resolves to public (see addressRefusal), unless the host is one of `allowedHosts`. The caller connects to
 * the returned address, so a second lookup cannot answer differently between the check and the connection.
 * Throws TargetRefused otherwise.
 */
export async function resolvePublicTarget(
  raw: string,
  options: { allowedHosts: readonly string[]; timeoutMs: number; lookup?: Lookup },
): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused('The URL is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TargetRefused(`The URL’s scheme must be http or https, not ${url.protocol.replace(/:$/, '').slice(0, 20)}`);
  }
  if (url.username !== '' || url.password !== '') throw new TargetRefused('The URL must not carry credentials');
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (hostname === '') throw new TargetRefused('The URL has no host');

  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(hostname)
      ? [{ address: hostname, family: isIP(hostname) }]
      : await withTimeout((options.lookup ?? systemLookup)(hostname), options.timeoutMs);
  } catch {
    throw new TargetRefused('The URL’s host does not resolve');
  }
  if (addresses.length === 0) throw new TargetRefused('The URL’s host does not resolve');
  if (!hostAllowed(url.hostname, options.allowedHosts)) {
    for (const { address } of addresses) {
      const refusal = addressRefusal(address);
      if (refusal) throw new TargetRefused(`The URL’s host resolves to a ${refusal.replace('_', '-')} address`);
    }
  }
  const [first] = addresses;
  return { url, hostname, address: first.address, family: first.family === 6 ? 6 : 4 };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
