import { minPremiumReaching } from './pricing';

/**
 * Listings rank fixed and floating prices together by their effective rate at one reference, best first
 * from the viewer's side: offers (seen by travelers) highest rate first, requests (seen by counterparties)
 * lowest first. The total order is (rate, kind: fixed before floating, premium, id), the id running the same
 * way as the rate so that each kind's position is one row value an index can seek to. Within the floating
 * prices the rate never decreases as the premium grows, so each kind is read in its own index order
 * (fixed by rate, floating by premium) and the two short streams are merged: a page never sorts the table.
 */
export type ListingSide = 'offers' | 'requests';

export const FIXED = 0;
export const FLOATING = 1;
export type PriceKind = typeof FIXED | typeof FLOATING;

export interface ListingKey {
  rate: bigint;
  kind: PriceKind;
  /** The premium for floating prices; 0 for fixed ones. */
  premiumBps: bigint;
  id: string;
}

/** Rows of one kind beyond a position in that kind's index order (`key` is a rate or a premium). */
export interface StreamAfter {
  key: bigint;
  /** When set, the position is the row value (key, id): rows at exactly `key` beyond this id also come after. */
  id?: string;
}

export interface StreamPlan {
  after?: StreamAfter;
  min?: bigint;
  max?: bigint;
}

export interface ListingPlan {
  /** 'desc' for offers, 'asc' for requests: the direction of both streams' keys. */
  direction: 'asc' | 'desc';
  fixed: StreamPlan;
  floating: StreamPlan;
}

export interface RateRange {
  minRate?: bigint;
  maxRate?: bigint;
}

export function directionOf(side: ListingSide): 'asc' | 'desc' {
  return side === 'offers' ? 'desc' : 'asc';
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareListings(side: ListingSide, a: ListingKey, b: ListingKey): number {
  const sign = side === 'offers' ? -1 : 1;
  if (a.rate !== b.rate) return a.rate < b.rate ? -sign : sign;
  if (a.kind !== b.kind) return a.kind - b.kind;
  if (a.premiumBps !== b.premiumBps) return a.premiumBps < b.premiumBps ? -sign : sign;
  return sign * compareIds(a.id, b.id);
}

/** Turns a cursor position and a rate filter into index ranges for each kind, at the pinned reference. */
export function planListing(side: ListingSide, reference: bigint, cursor: ListingKey | undefined, range: RateRange): ListingPlan {
  const direction = directionOf(side);
  const fixed: StreamPlan = { min: range.minRate, max: range.maxRate };
  const floating: StreamPlan = {
    min: range.minRate === undefined ? undefined : minPremiumReaching(reference, range.minRate),
    max: range.maxRate === undefined ? undefined : minPremiumReaching(reference, range.maxRate + 1n) - 1n,
  };
  if (cursor) {
    if (cursor.kind === FIXED) {
      fixed.after = { key: cursor.rate, id: cursor.id };
      // Floating rows at the cursor's rate rank after every fixed row at that rate: none was shown yet.
      floating.after =
        direction === 'desc'
          ? { key: minPremiumReaching(reference, cursor.rate + 1n) }
          : { key: minPremiumReaching(reference, cursor.rate) - 1n };
    } else {
      fixed.after = { key: cursor.rate };
      floating.after = { key: cursor.premiumBps, id: cursor.id };
    }
  }
  return { direction, fixed, floating };
}

/** The same plan applied in memory: the reference the SQL repository is tested against. */
export function matchesStream(plan: StreamPlan, direction: 'asc' | 'desc', key: bigint, id: string): boolean {
  if (plan.min !== undefined && key < plan.min) return false;
  if (plan.max !== undefined && key > plan.max) return false;
  if (!plan.after) return true;
  const beyond = direction === 'desc' ? key < plan.after.key : key > plan.after.key;
  const idBeyond = plan.after.id !== undefined && (direction === 'desc' ? id < plan.after.id : id > plan.after.id);
  return beyond || (key === plan.after.key && idBeyond);
}
