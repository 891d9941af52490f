import fc from 'fast-check';
import { floatingRate } from '../common/money';
import { effectiveRate, minPremiumReaching, withinGuard } from './pricing';

describe('pricing', () => {
  it('rounds a floating rate half-up to 4 decimals', () => {
    // 7.2400 × (1 − 0.0150) = 7.1314 exactly; 7.2345 × 1.0033 = 7.25837385 → 7.2584
    expect(effectiveRate({ type: 'floating', premiumBps: -150 }, 72400n)).toBe(71314n);
    expect(effectiveRate({ type: 'floating', premiumBps: 33 }, 72345n)).toBe(72584n);
    expect(effectiveRate({ type: 'fixed', rate: 72000n }, 99999n)).toBe(72000n);
  });

  it('finds the smallest premium reaching a rate', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 50000n, max: 90000n }), fc.bigInt({ min: 40000n, max: 100000n }), (reference, rate) => {
        const p = minPremiumReaching(reference, rate);
        if (p > -9999n) expect(floatingRate(reference, p - 1n)).toBeLessThan(rate);
        if (p > -9999n) expect(floatingRate(reference, p)).toBeGreaterThanOrEqual(rate);
      }),
    );
  });

  it('guards rates within the configured distance, both ways, inclusive', () => {
    expect(withinGuard(76020n, 72400n, 500)).toBe(true); // +5.00%
    expect(withinGuard(76021n, 72400n, 500)).toBe(false);
    expect(withinGuard(68780n, 72400n, 500)).toBe(true); // −5.00%
    expect(withinGuard(68779n, 72400n, 500)).toBe(false);
  });
});
