import { registerAs } from '@nestjs/config';
import { accessSync, constants } from 'node:fs';
import { EnvReader, isProduction } from './env';

export interface MarketConfig {
  /** A reference older than this is stale: no trade, no fixed-price posting (`reference_rate_stale`). */
  referenceStaleAfterMs: number;
  referenceRefreshEveryMs: number;
  /**
   * How long a process reuses the latest reference it read. It changes once a refresh period; listings and
   * trades read it on every request. One recorded in this process is seen at once.
   */
  referenceCacheMs: number;
  /**
   * How long a process reuses a public listing's first page; any write to offers or requests and any suspension
   * drop it at commit (LISTEN/NOTIFY), and a page of requests goes when the first of them expires, so only reputations and names can be this stale.
   * 0 reads on every request.
   */
  listingCacheMs: number;
  /** The rate guard: how far, in basis points either way, a rate may be from the reference. */
  rateGuardBps: number;
  /** Length of one "minute" of `expiresInMinutes`: 60000 in production; tests shrink it. */
  expiryMinuteMs: number;
  expiresInMinutesMin: number;
  expiresInMinutesMax: number;
  expiresInMinutesDefault: number;
  /** How often the sweeper expires requests whose delayed job was lost. */
  expirySweepEveryMs: number;
  /**
   * The rate feed: an HTTP source answering `{rate, asOf}` (required in production, over HTTPS). Unset outside
   * production: the mock below.
   */
  rateFeedUrl?: string;
  /** Extra CA certificates (PEM file) the feed's certificate may chain to, for a feed behind a private CA. */
  rateFeedCaFile?: string;
  rateFeedTimeoutMs: number;
  /** An answer outside these bounds (CNY per USD, 1/10000 units) is refused as implausible. */
  rateFeedMinRate: string;
  rateFeedMaxRate: string;
  /** The mock rate feed: a bounded walk around a base rate, the same in every process for one seed. */
  rateFeedBase: string;
  rateFeedSeed: number;
  rateFeedWalkBps: number;
  rateFeedStepMs: number;
}

const RATE_TEXT = /^\d{1,4}(\.\d{1,4})?$/;

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export function loadMarketConfig(env = process.env): MarketConfig {
  const read = new EnvReader(env);
  const production = isProduction(env);
  const config: MarketConfig = {
    referenceStaleAfterMs: read.int('REFERENCE_RATE_STALE_AFTER_MS', 600000, { min: 1000 }),
    referenceRefreshEveryMs: read.int('REFERENCE_RATE_REFRESH_EVERY_MS', 60000, { min: 100 }),
    referenceCacheMs: read.int('REFERENCE_RATE_CACHE_MS', 1000, { min: 0, max: 60000 }),
    listingCacheMs: read.int('LISTING_CACHE_MS', 500, { min: 0, max: 60000 }),
    rateGuardBps: read.int('RATE_GUARD_BPS', 500, { min: 1, max: 5000 }),
    expiryMinuteMs: read.int('EXPIRY_MINUTE_MS', 60000, { min: 10, max: 60000 }),
    expiresInMinutesMin: 5,
    expiresInMinutesMax: 10080,
    expiresInMinutesDefault: 1440,
    expirySweepEveryMs: read.int('EXPIRY_SWEEP_EVERY_MS', 60000, { min: 100 }),
    rateFeedUrl: env.RATE_FEED_URL?.trim()
      ? read.url('RATE_FEED_URL', 'http://127.0.0.1', production ? ['https:'] : ['http:', 'https:']).toString()
      : undefined,
    rateFeedCaFile: read.optionalString('RATE_FEED_CA_FILE'),
    rateFeedTimeoutMs: read.int('RATE_FEED_TIMEOUT_MS', 5000, { min: 100, max: 60000 }),
    rateFeedMinRate: read.string('RATE_FEED_MIN_RATE', '4.0000'),
    rateFeedMaxRate: read.string('RATE_FEED_MAX_RATE', '12.0000'),
    rateFeedBase: read.string('RATE_FEED_BASE', '7.2400'),
    rateFeedSeed: read.int('RATE_FEED_SEED', 1, { min: 0 }),
    rateFeedWalkBps: read.int('RATE_FEED_WALK_BPS', 150, { min: 0, max: 1000 }),
    rateFeedStepMs: read.int('RATE_FEED_STEP_MS', 60000, { min: 10 }),
  };
  for (const [name, value] of [
    ['RATE_FEED_BASE', config.rateFeedBase],
    ['RATE_FEED_MIN_RATE', config.rateFeedMinRate],
    ['RATE_FEED_MAX_RATE', config.rateFeedMaxRate],
  ]) {
    if (!RATE_TEXT.test(value) || Number(value) <= 0) read.fail(`${name} must be a rate such as 7.2400, got "${value}"`);
  }
  if (Number(config.rateFeedMinRate) >= Number(config.rateFeedMaxRate)) read.fail('RATE_FEED_MIN_RATE must be below RATE_FEED_MAX_RATE');
  if (config.rateFeedCaFile && !readable(config.rateFeedCaFile)) read.fail('RATE_FEED_CA_FILE cannot be read');
  // The mock's values are computable by anyone from its seed: production takes its reference from a real feed.
  if (production) {
    if (!config.rateFeedUrl) read.fail('RATE_FEED_URL must be set in production (the mock rate feed is for development only)');
    else if (new URL(config.rateFeedUrl).pathname.startsWith('/sandbox/'))
      read.fail('RATE_FEED_URL must point at a rate feed in production, not the sandbox mock');
  }
  return read.done(config);
}

export const marketConfig = registerAs('market', () => loadMarketConfig());
