import type { UserReputationEntity } from './user-reputation.entity';

export interface Reputation {
  completedTrades: number;
  completionRate: number | null;
  medianReleaseMinutes: number | null;
  ratingAverage: number | null;
  ratingCount: number;
  disputesLost: number;
}

type Counters = Pick<
  UserReputationEntity,
  'completedTrades' | 'failedTrades' | 'disputesLost' | 'ratingSum' | 'ratingCount' | 'recentReleaseMinutes'
>;

export const EMPTY_COUNTERS: Counters = {
  completedTrades: 0,
  failedTrades: 0,
  disputesLost: 0,
  ratingSum: 0,
  ratingCount: 0,
  recentReleaseMinutes: [],
};

// Integer arithmetic, then one division at the display precision: these are statistics, not money.
function ratio(numerator: number, denominator: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round((numerator * scale) / denominator) / scale;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The contract's reputation object: zeros and nulls until there is something to measure. */
export function toReputation(counters: Counters = EMPTY_COUNTERS): Reputation {
  const decided = counters.completedTrades + counters.failedTrades + counters.disputesLost;
  return {
    completedTrades: counters.completedTrades,
    completionRate: decided === 0 ? null : ratio(counters.completedTrades, decided, 4),
    medianReleaseMinutes: median(counters.recentReleaseMinutes),
    ratingAverage: counters.ratingCount === 0 ? null : ratio(counters.ratingSum, counters.ratingCount, 2),
    ratingCount: counters.ratingCount,
    disputesLost: counters.disputesLost,
  };
}
