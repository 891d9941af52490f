/**
 * How a simulation runs, from the environment: short in CI, long under `npm run test:chaos`
 * (SIM_RUNS=2000, SIM_MINUTES=30, whichever comes first), and a failure replayed by SIM_SEED and SIM_PATH.
 */
export interface SimulationSettings {
  seed: number;
  /** fast-check's path of a failing (shrunk) case, printed with it: replays exactly that sequence. */
  path?: string;
  runs: number;
  minutes?: number;
  /** Steps per sequence at most. */
  maxSteps: number;
  /** Known findings fail the run too (SIM_STRICT=1). */
  strict: boolean;
  /** Go on after a failed sequence, counting (SIM_KEEP_GOING=1, for long runs); the run still fails at the end. */
  keepGoing: boolean;
}

const int = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number, got "${raw}"`);
  return value;
};

export function readSettings(): SimulationSettings {
  return {
    seed: int('SIM_SEED') ?? Math.floor(Math.random() * 0x7fffffff),
    path: process.env.SIM_PATH || undefined,
    runs: int('SIM_RUNS') ?? 3,
    minutes: int('SIM_MINUTES'),
    maxSteps: int('SIM_STEPS') ?? 30,
    strict: process.env.SIM_STRICT === '1',
    keepGoing: process.env.SIM_KEEP_GOING === '1',
  };
}

/**
 * The service's timers, short enough that deadlines pass within a sequence: funding and payout windows of
 * seconds, a sweep each second, and the mocks settling in a tenth of a second.
 */
export const SWEEP_MS = 1000;
export const SIMULATION_ENV: Record<string, string> = {
  RATE_FEED_WALK_BPS: '0',
  REFERENCE_RATE_REFRESH_EVERY_MS: '3600000',
  OUTBOX_POLL_INTERVAL_MS: '50',
  FUNDING_WINDOW_PAYPAL_MS: '8000',
  FUNDING_WINDOW_BANK_MS: '8000',
  PAYOUT_WINDOW_MS: '8000',
  VERIFY_TIMEOUT_MS: '2500',
  DEADLINE_SWEEP_EVERY_MS: String(SWEEP_MS),
  PROVIDER_WORK_SWEEP_EVERY_MS: String(SWEEP_MS),
  PROVIDER_POLL_EVERY_MS: '200',
  PROVIDER_POLL_MAX_EVERY_MS: '1000',
  SETTLEMENT_FLAG_AFTER_ATTEMPTS: '3',
  SETTLEMENT_STEP_FLAG_AFTER_MS: '8000',
  SETTLEMENT_WATCH_POLL_MAX_MS: '500',
  PAYOUT_WATCH_FLAG_AFTER_MS: '6000',
  BANK_RETURN_WATCH_MS: '3000',
  // A held authorization is captured into escrow at four fifths of this: within a sequence.
  PAYPAL_HONOR_PERIOD_MS: '5000',
  PAYPAL_MOCK_PAYOUT_DELAY_MS: '100',
  PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '100',
  PAYPAL_MOCK_UNCLAIMED_RECEIVERS: 'sim-unclaimed@example.com',
  PAYPAL_MOCK_UNCLAIMED_RETURN_MS: '1500',
  BANK_MOCK_SETTLEMENT_DELAY_MS: '100',
  BANK_MOCK_WEBHOOK_BACKOFF_MS: '100',
  WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '100,100',
  // Reconciliation runs when the simulation asks, sees changes at once, and searches payouts up to now.
  RECONCILIATION_EVERY_MS: '3600000',
  RECONCILIATION_GRACE_MS: '0',
  RECONCILIATION_SEARCH_DELAY_MS: '0',
  RECONCILIATION_SETTLEMENT_BOUND_MS: '120000',
};
