import { chatConfig, eventsConfig, jobsConfig, tradesConfig } from '../config';
import { keepPeriodicJobs } from '../queues/periodic-jobs';
import { JOBS, QUEUES } from '../queues/queue-names';

/** The periodic clean-ups; every worker process registers the same ones, and keeps them (PeriodicJobs). */
export const HousekeepingScheduler = keepPeriodicJobs(
  QUEUES.housekeeping,
  [jobsConfig, tradesConfig, chatConfig, eventsConfig],
  (jobs, trades, chat, events) => [
    { name: JOBS.housekeeping.purgeIdempotencyKeys, everyMs: jobs.idempotencyPurgeEveryMs },
    { name: JOBS.housekeeping.purgePublishedOutbox, everyMs: jobs.idempotencyPurgeEveryMs },
    { name: JOBS.housekeeping.eraseHandleSnapshots, everyMs: trades.handleRetentionSweepEveryMs },
    { name: JOBS.housekeeping.eraseMessageTexts, everyMs: chat.messageRetentionSweepEveryMs },
    { name: JOBS.housekeeping.purgeEvents, everyMs: events.purgeEveryMs },
  ],
);
