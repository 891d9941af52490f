import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export interface MarketConfig {
  /** A reference older than this is stale: no trade, no fixed-price posting (`reference_rate_stale`). */
  referenceStaleAfterMs: number;
  referenceRefreshEveryMs: number;
  /**
   * How long a process reuses the latest reference it read. It changes once a refresh period; listings and
   * trades read it on every request. One recorded in this process is seen at once.
   */
  referenceCacheMs: number;
  /** The rate guard: how far, in basis points either way, a rate may be from the reference. */
  rateGuardBps: number;
  /** Length of one "minute" of `expiresInMinutes`: 60000 in production; tests shrink it. */
  expiryMinuteMs: number;
  expiresInMinutesMin: number;
  expiresInMinutesMax: number;
  expiresInMinutesDefault: number;
  /** How often the sweeper expires requests whose delayed job was lost. */
  expirySweepEveryMs: number;
  /** The mock rate feed: a bounded walk around a base rate, the same in every process for one seed. */
  rateFeedBase: string;
  rateFeedSeed: number;
  rateFeedWalkBps: number;
  rateFeedStepMs: number;
}

export function loadMarketConfig(env = process.env): MarketConfig {
  const read = new EnvReader(env);
  const config: MarketConfig = {
    referenceStaleAfterMs: read.int('REFERENCE_RATE_STALE_AFTER_MS', 600000, { min: 1000 }),
    referenceRefreshEveryMs: read.int('REFERENCE_RATE_REFRESH_EVERY_MS', 60000, { min: 100 }),
    referenceCacheMs: read.int('REFERENCE_RATE_CACHE_MS', 1000, { min: 0, max: 60000 }),
    rateGuardBps: read.int('RATE_GUARD_BPS', 500, { min: 1, max: 5000 }),
    expiryMinuteMs: read.int('EXPIRY_MINUTE_MS', 60000, { min: 10, max: 60000 }),
    expiresInMinutesMin: 5,
    expiresInMinutesMax: 10080,
    expiresInMinutesDefault: 1440,
    expirySweepEveryMs: read.int('EXPIRY_SWEEP_EVERY_MS', 60000, { min: 100 }),
    rateFeedBase: read.string('RATE_FEED_BASE', '7.2400'),
    rateFeedSeed: read.int('RATE_FEED_SEED', 1, { min: 0 }),
    rateFeedWalkBps: read.int('RATE_FEED_WALK_BPS', 150, { min: 0, max: 1000 }),
    rateFeedStepMs: read.int('RATE_FEED_STEP_MS', 60000, { min: 10 }),
  };
  if (!/^\d{1,4}(\.\d{1,4})?$/.test(config.rateFeedBase))
    read.fail(`RATE_FEED_BASE must be a rate such as 7.2400, got "${config.rateFeedBase}"`);
  return read.done(config);
}

export const marketConfig = registerAs('market', () => loadMarketConfig());
