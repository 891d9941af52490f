import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;

export function loadReconciliationConfig(env = process.env) {
  const read = new EnvReader(env);
  return read.done({
    /** How often the reconciliation job scheduler runs. */
    everyMs: read.int('RECONCILIATION_EVERY_MS', 15 * MINUTE, { min: 1000 }),
    /** Changed trades checked per run at most (the cursor carries the rest to the next run). */
    batchSize: read.int('RECONCILIATION_BATCH_SIZE', 500, { min: 1, max: 10000 }),
    /**
     * How long the books may lag the provider before a difference counts: a settlement in flight between the
     * provider's answer and its transaction, and a trade row whose commit is late behind its `updated_at`.
     */
    graceMs: read.int('RECONCILIATION_GRACE_MS', 10 * MINUTE, { min: 0 }),
    /** PayPal's payouts are searched up to this long ago (PayPal lists a transaction within three hours of it). */
    searchDelayMs: read.int('RECONCILIATION_SEARCH_DELAY_MS', 3 * 60 * MINUTE, { min: 0 }),
    /** How far back the first run searches PayPal's payouts. */
    searchLookbackMs: read.int('RECONCILIATION_SEARCH_LOOKBACK_MS', 31 * DAY, { min: 1000 }),
    /** A trade settling longer than this is a mismatch of its own (`settlement_overdue`). */
    settlementBoundMs: read.int('RECONCILIATION_SETTLEMENT_BOUND_MS', 60 * MINUTE, { min: 1000 }),
    /** How long an unfinished provider outcome (an unclaimed payout, a settled bank return that may bounce) is asked about again. */
    watchMs: read.int('RECONCILIATION_WATCH_MS', 35 * DAY, { min: 1000 }),
  });
}

export type ReconciliationConfig = ReturnType<typeof loadReconciliationConfig>;

export const reconciliationConfig = registerAs('reconciliation', () => loadReconciliationConfig());
