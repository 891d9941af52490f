import fc from 'fast-check';
import { MockRateFeed } from './mock-rate-feed';

describe('MockRateFeed', () => {
  const options = { base: '7.2400', seed: 42, walkBps: 150, stepMs: 60000 };

  it('is the same for the same seed and time, in any process', async () => {
    const a = new MockRateFeed(options, () => 1_800_000_000_000);
    const b = new MockRateFeed(options, () => 1_800_000_000_000);
    expect((await a.latest()).rate).toBe((await b.latest()).rate);
    const other = new MockRateFeed({ ...options, seed: 43 }, () => 1_800_000_000_000);
    const steps = Array.from({ length: 20 }, (_, i) => BigInt(i));
    expect(steps.map((s) => other.rateAtStep(s))).not.toEqual(steps.map((s) => a.rateAtStep(s)));
  });

  it('stays within the bound and moves by small steps', () => {
    const feed = new MockRateFeed(options);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), (step) => {
        const rate = feed.rateAtStep(step);
        expect(rate).toBeGreaterThanOrEqual(72400n - 1086n); // 1.5% of 7.2400, rounded outwards
        expect(rate).toBeLessThanOrEqual(72400n + 1086n);
        const next = feed.rateAtStep(step + 1n);
        expect(next - rate).toBeLessThanOrEqual(300n);
        expect(rate - next).toBeLessThanOrEqual(300n);
      }),
    );
  });

  it('holds still with no walk', async () => {
    const still = new MockRateFeed({ ...options, walkBps: 0 });
    expect((await still.latest()).rate).toBe(72400n);
  });
});
