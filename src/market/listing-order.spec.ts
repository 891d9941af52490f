import fc from 'fast-check';
import { floatingRate } from '../common/money';
import { compareListings, FIXED, FLOATING, ListingKey, ListingSide, matchesStream, planListing, RateRange } from './listing-order';

interface Row {
  id: string;
  kind: typeof FIXED | typeof FLOATING;
  /** The fixed rate, or the premium. */
  key: bigint;
}

const hex = '0123456789abcdef';
const idArb = fc
  .array(fc.constantFrom(...hex.split('')), { minLength: 8, maxLength: 8 })
  .map((c) => `${c.join('')}-0000-4000-8000-000000000000`);
/**
 * Rows as a premium-like number: a floating row's premium, or for a fixed row a rate right at (or one unit
 * beside) the effective rate of that premium. Fixed and floating rows then often tie on the rate, and a
 * narrow premium range makes several premiums share one rate: the cases where paging needs care.
 */
interface RowSeed {
  id: string;
  kind: typeof FIXED | typeof FLOATING;
  premium: bigint;
  jitter: bigint;
}
const rowSeedArb: fc.Arbitrary<RowSeed> = fc.record({
  id: idArb,
  kind: fc.constantFrom<typeof FIXED | typeof FLOATING>(FIXED, FLOATING),
  premium: fc.bigInt({ min: -40n, max: 40n }),
  jitter: fc.constantFrom(-1n, 0n, 0n, 1n),
});

function toRow(seed: RowSeed, reference: bigint): Row {
  return seed.kind === FIXED
    ? { id: seed.id, kind: FIXED, key: floatingRate(reference, seed.premium) + seed.jitter }
    : { id: seed.id, kind: FLOATING, key: seed.premium };
}

function keyOf(row: Row, reference: bigint): ListingKey {
  return row.kind === FIXED
    ? { rate: row.key, kind: FIXED, premiumBps: 0n, id: row.id }
    : { rate: floatingRate(reference, row.key), kind: FLOATING, premiumBps: row.key, id: row.id };
}

/** What the repository does: read each kind in its index order within the plan, merge, cut a page. */
function page(
  side: ListingSide,
  rows: Row[],
  reference: bigint,
  cursor: ListingKey | undefined,
  range: RateRange,
  limit: number,
): ListingKey[] {
  const plan = planListing(side, reference, cursor, range);
  const sign = plan.direction === 'desc' ? -1 : 1;
  const byIndex = (a: Row, b: Row) => {
    if (a.key !== b.key) return (a.key < b.key ? -1 : 1) * sign;
    return (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sign;
  };
  const stream = (kind: number) =>
    rows
      .filter((r) => r.kind === kind && matchesStream(kind === FIXED ? plan.fixed : plan.floating, plan.direction, r.key, r.id))
      .sort(byIndex)
      .slice(0, limit);
  return [...stream(FIXED), ...stream(FLOATING)]
    .map((r) => keyOf(r, reference))
    .sort((a, b) => compareListings(side, a, b))
    .slice(0, limit);
}

describe('listing order', () => {
  it('walks pages in exactly the order of a full sort, with no repeat and nothing missed', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(rowSeedArb, { selector: (r) => r.id, maxLength: 60 }),
        fc.constantFrom<ListingSide>('offers', 'requests'),
        fc.bigInt({ min: 70000n, max: 74000n }),
        fc.integer({ min: 1, max: 7 }),
        fc.option(fc.tuple(fc.bigInt({ min: -45n, max: 45n }), fc.bigInt({ min: 0n, max: 40n })), { nil: undefined }),
        (seeds, side, reference, limit, rateRange) => {
          const rows = seeds.map((seed) => toRow(seed, reference));
          const low = rateRange ? floatingRate(reference, rateRange[0]) : undefined;
          const range: RateRange = rateRange ? { minRate: low, maxRate: low! + rateRange[1] } : {};
          const expected = rows
            .map((r) => keyOf(r, reference))
            .filter(
              (k) => (range.minRate === undefined || k.rate >= range.minRate) && (range.maxRate === undefined || k.rate <= range.maxRate),
            )
            .sort((a, b) => compareListings(side, a, b));
          const walked: ListingKey[] = [];
          let cursor: ListingKey | undefined;
          for (let i = 0; i <= rows.length; i += 1) {
            const next = page(side, rows, reference, cursor, range, limit);
            walked.push(...next);
            if (next.length < limit) break;
            cursor = next[next.length - 1];
          }
          expect(walked.map((k) => k.id)).toEqual(expected.map((k) => k.id));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('puts the best rate first from the viewer side', () => {
    const high = { rate: 73000n, kind: FIXED, premiumBps: 0n, id: 'b' } as const;
    const low = { rate: 72000n, kind: FIXED, premiumBps: 0n, id: 'a' } as const;
    expect([low, high].sort((a, b) => compareListings('offers', a, b))[0]).toBe(high);
    expect([high, low].sort((a, b) => compareListings('requests', a, b))[0]).toBe(low);
  });
});
