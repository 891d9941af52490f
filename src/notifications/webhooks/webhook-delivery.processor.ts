import { Processor, WorkerHost } from '@nestjs/bullmq';
import { DelayedError, type Job } from 'bullmq';
import { HandlesJobs } from '../../queues/job-handlers';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { AttemptResult, WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookSweep } from './webhook-sweep';

/**
 * Client webhook deliveries, one job per endpoint and event: a slow or dead receiver holds at most
 * WEBHOOK_CONCURRENCY_PER_ENDPOINT slots of this queue's worker (WEBHOOK_CONCURRENCY); its other deliveries wait
 * delayed, holding none, so other receivers' deliveries and trades go on.
 */
@HandlesJobs('webhooks', [JOBS.webhooks.deliverWebhook, JOBS.webhooks.sweepDeliveries])
@Processor(QUEUES.webhooks)
export class WebhookDeliveryProcessor extends WorkerHost {
  constructor(
    private readonly deliveries: WebhookDeliveryService,
    private readonly sweeper: WebhookSweep,
  ) {
    super();
  }

  async process(job: Job, token?: string): Promise<{ result: AttemptResult } | { requeued: number; purged: number }> {
    switch (job.name) {
      case JOBS.webhooks.deliverWebhook: {
        const { deliveryId } = job.data as { deliveryId: string };
        const backoff = job.opts.backoff;
        const result = await this.deliveries.attempt(deliveryId, {
          attemptsMade: job.attemptsMade,
          attempts: job.opts.attempts ?? 1,
          backoffMs: typeof backoff === 'object' ? (backoff.delay ?? 0) : (backoff ?? 0),
        });
        if (result === 'busy') {
          // Its endpoint has its cap under way: back to delayed, its slot freed, no attempt counted.
          await job.moveToDelayed(this.deliveries.busyRetryAt(), token);
          throw new DelayedError();
        }
        return { result };
      }
      case JOBS.webhooks.sweepDeliveries:
        return this.sweeper.sweep();
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.webhooks}`);
    }
  }
}
