import { EMPTY_COUNTERS, median, toReputation } from './reputation';

describe('toReputation', () => {
  it('is zeros and nulls before any trade', () => {
    expect(toReputation()).toEqual({
      completedTrades: 0,
      completionRate: null,
      medianReleaseMinutes: null,
      ratingAverage: null,
      ratingCount: 0,
      disputesLost: 0,
    });
  });

  it('counts lost disputes and failed trades against completion, to 4 decimals', () => {
    const reputation = toReputation({ ...EMPTY_COUNTERS, completedTrades: 2, failedTrades: 0, disputesLost: 1 });
    expect(reputation.completionRate).toBe(0.6667);
  });

  it('averages ratings to 2 decimals', () => {
    expect(toReputation({ ...EMPTY_COUNTERS, ratingSum: 14, ratingCount: 3 }).ratingAverage).toBe(4.67);
  });

  it('takes the median of the recent release times', () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});
