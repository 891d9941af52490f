import { floatingRate, isRateWithinBps } from '../common/money';

/** A maker's price: a fixed rate (CNY per USD, 4-decimal units) or a premium over the reference. */
export type Price = { type: 'fixed'; rate: bigint } | { type: 'floating'; premiumBps: number };

export function effectiveRate(price: Price, reference: bigint): bigint {
  return price.type === 'fixed' ? price.rate : floatingRate(reference, price.premiumBps);
}

/**
 * The smallest premium whose effective rate at `reference` reaches `rate`. The effective rate is
 * round-half-up(reference × (10000 + p) / 10000), non-decreasing in p, so
 * eff(p) ≥ R ⟺ reference × (10000 + p) ≥ 10000·R − 5000 ⟺ p ≥ ⌈(10000·R − 5000) / reference⌉ − 10000.
 * It turns a condition on effective rates into a range of premiums, which an index can serve.
 */
export function minPremiumReaching(reference: bigint, rate: bigint): bigint {
  if (reference <= 0n) throw new RangeError('reference must be positive');
  const needed = 10_000n * rate - 5_000n;
  const ceil = needed <= 0n ? -(-needed / reference) : (needed + reference - 1n) / reference;
  return ceil - 10_000n;
}

/** The rate guard: a rate more than `guardBps` from the reference, either way, is refused. */
export function withinGuard(rate: bigint, reference: bigint, guardBps: number): boolean {
  return isRateWithinBps(rate, reference, guardBps);
}
