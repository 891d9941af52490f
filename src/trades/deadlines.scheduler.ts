import { tradesConfig } from '../config';
import { keepPeriodicJobs } from '../queues/periodic-jobs';
import { JOBS, QUEUES } from '../queues/queue-names';

export const DeadlinesScheduler = keepPeriodicJobs(QUEUES.deadlines, [tradesConfig], (trades) => [
  { name: JOBS.deadlines.sweepDeadlines, everyMs: trades.deadlineSweepEveryMs },
]);
