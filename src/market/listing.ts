import type { Cursors } from '../common/http/cursors';
import { Page, pageSize } from '../common/http/pagination';
import { formatRate } from '../common/money';
import { UUID_PATTERN } from '../common/http/time-cursor';
import { compareListings, FIXED, FLOATING, ListingKey, ListingSide, PriceKind } from './listing-order';
import type { InputParser } from './market-input';
import type { Ranked } from './market.repository';
import { effectiveRate, Price } from './pricing';
import type { RatesService } from '../rates/rates.service';

/** A listing cursor: the last row's position and the reference the first page was ranked at. */
export interface ListingCursor {
  reference: bigint;
  last: ListingKey;
}

type EncodedCursor = {
  r: string;
  e: string;
  k: number;
  p: string;
  i: string;
};

const INTEGER = /^-?\d{1,12}$/;

function isEncodedCursor(value: unknown): value is EncodedCursor {
  const v = value as Partial<EncodedCursor>;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.r === 'string' &&
    /^\d{1,12}$/.test(v.r) &&
    BigInt(v.r) > 0n &&
    typeof v.e === 'string' &&
    INTEGER.test(v.e) &&
    (v.k === FIXED || v.k === FLOATING) &&
    typeof v.p === 'string' &&
    INTEGER.test(v.p) &&
    typeof v.i === 'string' &&
    UUID_PATTERN.test(v.i)
  );
}

/** A listing's cursors: those of the requests' listing do not page the offers', nor the other way round. */
function listingCursors(cursors: Cursors, side: ListingSide) {
  return cursors.of(`listing:${side}`, isEncodedCursor);
}

export function parseListingCursor(cursors: Cursors, side: ListingSide, cursor: string | undefined): ListingCursor | undefined {
  if (cursor === undefined) return undefined;
  const c = listingCursors(cursors, side).decode(cursor);
  return { reference: BigInt(c.r), last: { rate: BigInt(c.e), kind: c.k as PriceKind, premiumBps: BigInt(c.p), id: c.i.toLowerCase() } };
}

/**
 * What every listing reads of its query besides its own filters (ListingQuery): bounds on the effective rate and the
 * cursor. Then checks every field the caller read into `input` (a 400 before anything else), and answers the page's
 * size and the reference it is ranked at.
 */
export async function openListing(
  side: ListingSide,
  input: InputParser,
  query: { minRate?: string; maxRate?: string; cursor?: string; limit?: number },
  rates: RatesService,
  cursors: Cursors,
) {
  const minRate = input.optionalRate(query.minRate, 'minRate');
  const maxRate = input.optionalRate(query.maxRate, 'maxRate');
  const cursor = parseListingCursor(cursors, side, query.cursor);
  input.done();
  return { minRate, maxRate, cursor, limit: pageSize(query), reference: await listingReference(rates, cursor) };
}

/** The reference a page is ranked at: the cursor's, so a walk through the pages holds still while the rate moves. */
export async function listingReference(rates: RatesService, cursor: ListingCursor | undefined): Promise<bigint> {
  if (cursor) return cursor.reference;
  const current = await rates.current();
  if (!current) throw rates.stale('No reference rate yet; listings cannot be ranked');
  return current.rate;
}

function keyOf(item: { id: string; price: Price }, kind: PriceKind, reference: bigint): ListingKey {
  return {
    rate: effectiveRate(item.price, reference),
    kind,
    premiumBps: item.price.type === 'floating' ? BigInt(item.price.premiumBps) : 0n,
    id: item.id,
  };
}

/** Merges the two index-ordered streams into one page of at most `limit`, and the cursor after it. */
export function mergePage<T extends { id: string; price: Price }>(
  side: ListingSide,
  rows: Ranked<T>[],
  reference: bigint,
  limit: number,
  cursors: Cursors,
): { items: T[]; nextCursor: string | null } {
  const ranked = rows.map((row) => ({ item: row.item, key: keyOf(row.item, row.kind, reference) }));
  ranked.sort((a, b) => compareListings(side, a.key, b.key));
  const page = ranked.slice(0, limit);
  const last = page[page.length - 1];
  const nextCursor =
    ranked.length > limit && last
      ? listingCursors(cursors, side).encode({
          r: reference.toString(),
          e: last.key.rate.toString(),
          k: last.key.kind,
          p: last.key.premiumBps.toString(),
          i: last.key.id,
        })
      : null;
  return { items: page.map((r) => r.item), nextCursor };
}

/** One page of a listing, each item presented at the reference it was ranked at, which the page names. */
export function listingPage<T extends { id: string; price: Price }, V>(
  side: ListingSide,
  rows: Ranked<T>[],
  reference: bigint,
  limit: number,
  present: (item: T, reference: bigint) => V,
  cursors: Cursors,
): Page<V> & { referenceRate: string } {
  const page = mergePage(side, rows, reference, limit, cursors);
  return { data: page.items.map((item) => present(item, reference)), nextCursor: page.nextCursor, referenceRate: formatRate(reference) };
}
