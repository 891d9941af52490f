import type { OutboxMessage } from '../../outbox/outbox.service';
import { webhookDeliveryJobId } from '../../queues/job-ids';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { webhookDeliveryRetry } from '../../queues/retry-policies';

/** The encryption context of an endpoint's signing secret. */
export const WEBHOOK_SECRET_CONTEXT = 'webhook_endpoints.secret';

/** The outbox row of one delivery's job: every attempt of it, WEBHOOK_ATTEMPTS in all, backing off from WEBHOOK_BACKOFF_MS. */
export function deliveryJob(deliveryId: string, config: { attempts: number; backoffMs: number }): OutboxMessage {
  return {
    queue: QUEUES.webhooks,
    jobName: JOBS.webhooks.deliverWebhook,
    jobId: webhookDeliveryJobId(deliveryId),
    payload: { deliveryId },
    retry: webhookDeliveryRetry(config),
  };
}
