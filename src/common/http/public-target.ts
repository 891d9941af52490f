import { lookup as dnsLookup, Resolver } from 'node:dns/promises';
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

type Address = { address: string; family: number };

export type Lookup = (hostname: string) => Promise<Address[]>;

/** The DNS queries a target's host is resolved by: `dns.promises.Resolver`'s (c-ares, on the event loop). */
export interface DnsResolver {
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
  cancel?(): void;
}

/**
 * The system's resolver (getaddrinfo: /etc/hosts too), used only for an allowed host DNS does not answer for. It
 * runs on libuv's threadpool (4 threads, shared with crypto and file reads), where a hung lookup cannot be
 * cancelled: a client's name never goes through it.
 */
const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Tries per name server, each given an equal share of the time allowed. */
const DNS_TRIES = 2;

function dnsResolver(timeoutMs: number): DnsResolver {
  return new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / DNS_TRIES)), tries: DNS_TRIES });
}

/** RFC 6761: `localhost` and names under it are loopback, whatever a DNS server would say. */
function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** Host names (or IP addresses) matched case-insensitively against a URL's host, any port; IPv6 with or without brackets. */
export function hostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return allowedHosts.some((host) => host.replace(/^\[(.*)\]$/, '$1').toLowerCase() === bare);
}

export interface ResolveOptions {
  allowedHosts: readonly string[];
  timeoutMs: number;
  /** The DNS resolver (a fresh `dns.promises.Resolver` by default). */
  resolver?: DnsResolver;
  /** The system's lookup, for allowed hosts only (getaddrinfo by default). */
  lookup?: Lookup;
}

/**
 * Parses a client's URL and resolves its host: `http` or `https`, no credentials in it, and every address the
 * host resolves to public (see addressRefusal), unless the host is one of `allowedHosts`. The caller connects to
 * the returned address, so a second lookup cannot answer differently between the check and the connection.
 * Throws TargetRefused otherwise.
 *
 * A name is resolved by DNS queries (A and AAAA), never by getaddrinfo: those run on the event loop and are
 * cancelled at the timeout, so slow DNS cannot take the threadpool from the rest of the process. `localhost`
 * names are loopback without a query. An allowed host (WEBHOOK_ALLOWED_HOSTS: development and tests) that DNS
 * does not answer for, `localhost` among them, is looked up the system's way (/etc/hosts): the operator named it.
 */
export async function resolvePublicTarget(raw: string, options: ResolveOptions): Promise<CheckedTarget> {
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

  const allowed = hostAllowed(url.hostname, options.allowedHosts);
  const addresses = await addressesOf(hostname, allowed, options);
  if (addresses.length === 0) throw new TargetRefused('The URL’s host does not resolve');
  if (!allowed) {
    for (const { address } of addresses) {
      const refusal = addressRefusal(address);
      if (refusal) throw new TargetRefused(`The URL’s host resolves to a ${refusal.replace('_', '-')} address`);
    }
  }
  const [first] = addresses;
  return { url, hostname, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The host's addresses, IPv4 first; none when it does not resolve in time. */
async function addressesOf(hostname: string, allowed: boolean, options: ResolveOptions): Promise<Address[]> {
  const family = isIP(hostname);
  if (family) return [{ address: hostname, family }];
  const deadline = Date.now() + options.timeoutMs;
  const local = isLocalhostName(hostname);
  if (local && !allowed) return [{ address: '127.0.0.1', family: 4 }];
  let addresses: Address[] = [];
  if (!local) {
    const resolver = options.resolver ?? dnsResolver(options.timeoutMs);
    addresses = await withTimeout(queried(resolver, hostname), options.timeoutMs, () => resolver.cancel?.()).catch(() => []);
  }
  if (addresses.length === 0 && allowed) {
    addresses = await withTimeout((options.lookup ?? systemLookup)(hostname), Math.max(1, deadline - Date.now())).catch(() => []);
  }
  return addresses;
}

/** A and AAAA answers together: a name with only one kind resolves, and neither answering is no answer. */
async function queried(resolver: DnsResolver, hostname: string): Promise<Address[]> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
  return [
    ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
    ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
  ];
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error('timed out'));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
