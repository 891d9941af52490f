import { webhooksConfig } from '../../config';
import { keepPeriodicJobs } from '../../queues/periodic-jobs';
import { JOBS, QUEUES } from '../../queues/queue-names';

/** The sweep of lost deliveries (WebhookSweep); every worker process registers it, and keeps it (PeriodicJobs). */
export const WebhooksScheduler = keepPeriodicJobs(QUEUES.webhooks, [webhooksConfig], (webhooks) => [
  { name: JOBS.webhooks.sweepDeliveries, everyMs: webhooks.sweepEveryMs },
]);
