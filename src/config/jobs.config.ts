import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export function loadJobsConfig(env = process.env) {
  const read = new EnvReader(env);
  return read.done({
    /** Fallback poll of the outbox; commits also wake the relay at once through LISTEN/NOTIFY. */
    outboxPollIntervalMs: read.int('OUTBOX_POLL_INTERVAL_MS', 1000, { min: 10 }),
    outboxBatchSize: read.int('OUTBOX_BATCH_SIZE', 100, { min: 1, max: 1000 }),
    /**
     * The process that commits outbox rows adds their jobs itself right after the commit; the relay publishes only
     * what that left (a process killed in between, Redis unreachable). Off: the relay publishes every row.
     */
    outboxPublishAfterCommit: read.bool('OUTBOX_PUBLISH_AFTER_COMMIT', true),
    /**
     * How long a row to be published after its commit is left to its writer before the relay takes it: the delay
     * of the fallback after a crash. The writer gives up adding it well before (half of it), so both never add it.
     */
    outboxAfterCommitLeaseMs: read.int('OUTBOX_AFTER_COMMIT_LEASE_MS', 10000, { min: 200, max: 600000 }),
    /**
     * A reported payout's verification and a funding check are run by the process that committed their outbox row,
     * right after the commit, their jobs only the fallback (`ProviderChecksAfterCommit`). Off: always through their jobs.
     */
    providerChecksAfterCommit: read.bool('PROVIDER_CHECKS_AFTER_COMMIT', true),
    /**
     * A decided trade's settlement (and a payout callback's) is run by the process that committed its outbox row,
     * right after the commit, its `settle-trade` job only the fallback (`SettlementAfterCommit`). Off: always its job.
     */
    settlementAfterCommit: read.bool('SETTLEMENT_AFTER_COMMIT', true),
    /** How often expired idempotency keys are purged. */
    idempotencyPurgeEveryMs: read.int('IDEMPOTENCY_PURGE_EVERY_MS', 3600000, { min: 1000 }),
    /**
     * Jobs each queue's worker runs at once in this process. Jobs mostly wait on a provider or the database, and
     * each is idempotent and takes its trade's row lock, so running several at once is safe and keeps one slow
     * answer from holding up the rest.
     */
    workerConcurrency: read.int('WORKER_CONCURRENCY', 8, { min: 1, max: 100 }),
    /**
     * The funding and settlement queues' own: their jobs are provider round trips (several each, seconds under load)
     * with little CPU between, so with WORKER_CONCURRENCY's 8 a burst of trades waited for a free slot while the
     * process idled. No provider caps these calls: each job takes its trade's claim or row lock, one at a time per trade.
     */
    fundingWorkerConcurrency: read.int('FUNDING_WORKER_CONCURRENCY', 32, { min: 1, max: 200 }),
    settlementWorkerConcurrency: read.int('SETTLEMENT_WORKER_CONCURRENCY', 32, { min: 1, max: 200 }),
    /** The verification queue's (WeChat's answers about reported transfers), and the verifications after commit a process runs at once. */
    verificationWorkerConcurrency: read.int('VERIFICATION_WORKER_CONCURRENCY', 32, { min: 1, max: 200 }),
    /** How often each process checks that the periodic jobs it registered are still in Redis (and registers them again). */
    periodicJobsCheckEveryMs: read.int('PERIODIC_JOBS_CHECK_EVERY_MS', 30000, { min: 100 }),
    /** The queue dashboard's mutating actions (retry, remove, clean, pause…), each audited; off: the dashboard is read-only. */
    queueDashboardActions: read.bool('QUEUE_DASHBOARD_ACTIONS', false),
  });
}

export type JobsConfig = ReturnType<typeof loadJobsConfig>;

export const jobsConfig = registerAs('jobs', () => loadJobsConfig());
