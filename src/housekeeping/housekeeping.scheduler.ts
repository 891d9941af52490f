import { jobsConfig, tradesConfig } from '../config';
import { keepPeriodicJobs } from '../queues/periodic-jobs';
import { JOBS, QUEUES } from '../queues/queue-names';

/** The periodic clean-ups; every worker process registers the same ones, and keeps them (PeriodicJobs). */
export const HousekeepingScheduler = keepPeriodicJobs(QUEUES.housekeeping, [jobsConfig, tradesConfig], (jobs, trades) => [
  { name: JOBS.housekeeping.purgeIdempotencyKeys, everyMs: jobs.idempotencyPurgeEveryMs },
  { name: JOBS.housekeeping.purgePublishedOutbox, everyMs: jobs.idempotencyPurgeEveryMs },
  { name: JOBS.housekeeping.eraseHandleSnapshots, everyMs: trades.handleRetentionSweepEveryMs },
]);
