import { isIPv4, isIPv6 } from 'node:net';
import { ipv6Groups } from './address-group';

/** Why an address is no place to send a request on a client's behalf; null: a public address. */
export type AddressRefusal =
  'not_an_address' | 'unspecified' | 'loopback' | 'private' | 'shared' | 'link_local' | 'metadata' | 'multicast' | 'reserved';

type V4Range = [a: number, b: number, c: number, d: number, bits: number, refusal: AddressRefusal];

/** IPv4 ranges that are not the public internet (RFC 6890's special-purpose registry, and cloud metadata). */
const V4_RANGES: readonly V4Range[] = [
  [169, 254, 169, 254, 32, 'metadata'],
  [0, 0, 0, 0, 8, 'unspecified'],
  [10, 0, 0, 0, 8, 'private'],
  [100, 64, 0, 0, 10, 'shared'],
  [127, 0, 0, 0, 8, 'loopback'],
  [169, 254, 0, 0, 16, 'link_local'],
  [172, 16, 0, 0, 12, 'private'],
  [192, 0, 0, 0, 24, 'reserved'],
  [192, 0, 2, 0, 24, 'reserved'],
  [192, 88, 99, 0, 24, 'reserved'],
  [192, 168, 0, 0, 16, 'private'],
  [198, 18, 0, 0, 15, 'reserved'],
  [198, 51, 100, 0, 24, 'reserved'],
  [203, 0, 113, 0, 24, 'reserved'],
  [224, 0, 0, 0, 4, 'multicast'],
  [240, 0, 0, 0, 4, 'reserved'],
];

const toV4Number = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

function v4Refusal(address: string): AddressRefusal | null {
  const [a, b, c, d] = address.split('.').map(Number);
  const value = toV4Number(a, b, c, d);
  for (const [ra, rb, rc, rd, bits, refusal] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((value & mask) >>> 0 === (toV4Number(ra, rb, rc, rd) & mask) >>> 0) return refusal;
  }
  return null;
}

/** The IPv4 address held in two 16-bit groups. */
const embeddedV4 = (high: number, low: number) => [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');

function v6Refusal(address: string): AddressRefusal | null {
  const g = ipv6Groups(address);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // Forms that carry an IPv4 address, which is what a connection to them reaches: mapped (::ffff:a.b.c.d), the
  // old compatible form (::a.b.c.d), the ::ffff:0:a.b.c.d translated form, NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
  if (zeros(0, 5) && g[5] === 0xffff) return v4Refusal(embeddedV4(g[6], g[7]));
  if (zeros(0, 6)) return v4Refusal(embeddedV4(g[6], g[7]));
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return v4Refusal(embeddedV4(g[6], g[7]));
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4Refusal(embeddedV4(g[6], g[7]));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'reserved';
  if (g[0] === 0x2002) return v4Refusal(embeddedV4(g[1], g[2]));
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && zeros(2, 7) && g[7] === 0x254) return 'metadata';
  if ((g[0] & 0xfe00) === 0xfc00) return 'private';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link_local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'private';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  // Teredo, documentation, discard-only, ORCHIDs and other IETF assignments: nothing a client's receiver sits on.
  if (g[0] === 0x2001 && g[1] < 0x200) return 'reserved';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'reserved';
  if (g[0] === 0x3fff && g[1] < 0x1000) return 'reserved';
  if (g[0] === 0x0100 && zeros(1, 4)) return 'reserved';
  // Only global unicast (2000::/3) is public; everything else is unassigned or reserved.
  if ((g[0] & 0xe000) !== 0x2000) return 'reserved';
  return null;
}

/**
 * Whether a resolved address may be the target of a request made for a client (a webhook delivery): null when it
 * is a public address, else why not. IPv4-mapped and other forms that embed an IPv4 address are judged by that
 * address; a zone (`fe80::1%eth0`) is ignored.
 */
export function addressRefusal(address: string): AddressRefusal | null {
  const bare = address.split('%')[0].toLowerCase();
  if (isIPv4(bare)) return v4Refusal(bare);
  if (isIPv6(bare)) return v6Refusal(bare);
  return 'not_an_address';
}
