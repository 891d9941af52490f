import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export interface TierLimits {
  dailyUsdCents: bigint;
  openTrades: number;
}

export function loadTradesConfig(env = process.env) {
  const read = new EnvReader(env);
  const dollars = (name: string, fallback: number) => BigInt(read.int(name, fallback, { min: 1 })) * 100n;
  return read.done({
    /** The platform's fee in basis points of the USD released to the counterparty. */
    feeBps: read.int('PLATFORM_FEE_BPS', 100, { min: 0, max: 5000 }),
    fundingWindowPaypalMs: read.int('FUNDING_WINDOW_PAYPAL_MS', 30 * 60 * 1000, { min: 100 }),
    fundingWindowBankMs: read.int('FUNDING_WINDOW_BANK_MS', 24 * 60 * 60 * 1000, { min: 100 }),
    payoutWindowMs: read.int('PAYOUT_WINDOW_MS', 30 * 60 * 1000, { min: 100 }),
    verifyTimeoutMs: read.int('VERIFY_TIMEOUT_MS', 15 * 60 * 1000, { min: 100 }),
    /** How often the sweeper catches deadlines whose delayed job was lost. */
    deadlineSweepEveryMs: read.int('DEADLINE_SWEEP_EVERY_MS', 60000, { min: 100 }),
    /** How often funding checks, settlements, captures and returns whose job was lost are queued again (and how old such work must be). */
    providerWorkSweepEveryMs: read.int('PROVIDER_WORK_SWEEP_EVERY_MS', 60000, { min: 100 }),
    /** Per tier (0 new, 1 earned, 2 set by operators). */
    tiers: [
      { dailyUsdCents: dollars('TIER0_DAILY_USD', 1000), openTrades: read.int('TIER0_OPEN_TRADES', 5, { min: 1 }) },
      { dailyUsdCents: dollars('TIER1_DAILY_USD', 5000), openTrades: read.int('TIER1_OPEN_TRADES', 20, { min: 1 }) },
      { dailyUsdCents: dollars('TIER2_DAILY_USD', 20000), openTrades: read.int('TIER2_OPEN_TRADES', 100, { min: 1 }) },
    ],
    /** Completed trades that earn tier 1 by themselves (with no dispute lost). */
    tier1CompletedTrades: read.int('TIER1_COMPLETED_TRADES', 5, { min: 1 }),
    /** How often a trade's funding and settlement are asked about again while the provider has not finished. */
    providerPollEveryMs: read.int('PROVIDER_POLL_EVERY_MS', 10000, { min: 10 }),
    /** The funding poll starts at `providerPollEveryMs` and doubles up to this. */
    providerPollMaxEveryMs: read.int('PROVIDER_POLL_MAX_EVERY_MS', 60000, { min: 10 }),
    /** Failed attempts after which a settlement is flagged for operators (it keeps being retried). */
    settlementFlagAfterAttempts: read.int('SETTLEMENT_FLAG_AFTER_ATTEMPTS', 3, { min: 1 }),
    /** How long a settlement run holds its trade's claim without renewing it (renewed before every provider call). */
    settlementClaimLeaseMs: read.int('SETTLEMENT_CLAIM_LEASE_MS', 60000, { min: 1000 }),
    /** How long a settlement step may wait on its provider (or keep failing) before the trade is flagged for operators. */
    settlementStepFlagAfterMs: read.int('SETTLEMENT_STEP_FLAG_AFTER_MS', 2 * 60 * 60 * 1000, { min: 100 }),
    /** How long a payout that left us unclaimed may stay so before the trade is flagged (PayPal returns it after 30 days). */
    payoutWatchFlagAfterMs: read.int('PAYOUT_WATCH_FLAG_AFTER_MS', 32 * 24 * 60 * 60 * 1000, { min: 100 }),
    /** How long a settled bank return is watched for the receiving bank sending it back; after that it is final. */
    bankReturnWatchMs: read.int('BANK_RETURN_WATCH_MS', 10 * 24 * 60 * 60 * 1000, { min: 100 }),
    /** Watched outcomes are asked about from `providerPollEveryMs`, doubling up to this. */
    settlementWatchPollMaxMs: read.int('SETTLEMENT_WATCH_POLL_MAX_MS', 60 * 60 * 1000, { min: 10 }),
    /** The statement timeout of the ledger check, which reconciles every transfer (about 25 s for 7 million). */
    ledgerCheckTimeoutMs: read.int('LEDGER_CHECK_TIMEOUT_MS', 120000, { min: 100 }),
    /**
     * How long after a trade ends (and once nothing of it is owed) its payment handle snapshots are kept, in ms. Over
     * 2^31 by default (30 days): only ever used in SQL as an interval, never in an integer column or a timer.
     */
    handleRetentionMs: read.int('HANDLE_RETENTION_MS', 30 * 24 * 60 * 60 * 1000, { min: 1000, max: 10 * 365 * 24 * 60 * 60 * 1000 }),
    /** How often the handle retention sweep runs. */
    handleRetentionSweepEveryMs: read.int('HANDLE_RETENTION_SWEEP_EVERY_MS', 60 * 60 * 1000, { min: 100 }),
  });
}

export type TradesConfig = ReturnType<typeof loadTradesConfig>;

export const tradesConfig = registerAs('trades', () => loadTradesConfig());
