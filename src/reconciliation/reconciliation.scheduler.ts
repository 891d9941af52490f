import { reconciliationConfig } from '../config';
import { keepPeriodicJobs } from '../queues/periodic-jobs';
import { JOBS, QUEUES } from '../queues/queue-names';

/** The periodic run; every worker process registers the same one, and keeps it (PeriodicJobs). */
export const ReconciliationScheduler = keepPeriodicJobs(QUEUES.reconciliation, [reconciliationConfig], (reconciliation) => [
  { name: JOBS.reconciliation.reconcile, everyMs: reconciliation.everyMs, data: { trigger: 'schedule' } },
]);
