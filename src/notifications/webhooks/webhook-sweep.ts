import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { webhooksConfig } from '../../config';
import { webhookDeliveryJobId, webhookDeliverySweepJobId } from '../../queues/job-ids';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { WebhooksRepository } from './webhooks.repository';

const BATCH = 500;
const MAX_BATCHES = 20;
// A job in one of these states will run by itself.
const PENDING_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'];

/**
 * Redis is a cache of work: a delivery whose job it lost is still pending in the log, long past its due time. The
 * sweep queues it again with the attempts it has left, unless its job is still waiting, delayed or running (a job
 * lost mid-attempt may still send it twice: delivery is at least once), and purges the log past WEBHOOK_DELIVERY_RETENTION_MS.
 */
@Injectable()
export class WebhookSweep {
  private readonly logger = new Logger(WebhookSweep.name);

  constructor(
    @InjectQueue(QUEUES.webhooks) private readonly queue: Queue,
    private readonly webhooks: WebhooksRepository,
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
  ) {}

  async sweep(): Promise<{ requeued: number; purged: number }> {
    const lost = await this.webhooks.lost(this.config.sweepAfterMs, BATCH);
    let requeued = 0;
    for (const { id, attempts } of lost) {
      if (!(await this.jobGone(id, attempts))) continue;
      requeued += 1;
      await this.queue.add(
        JOBS.webhooks.deliverWebhook,
        { deliveryId: id },
        {
          jobId: webhookDeliverySweepJobId(id, attempts),
          attempts: Math.max(1, this.config.attempts - attempts),
          backoff: { type: 'exponential', delay: this.config.backoffMs },
        },
      );
    }
    let purged = 0;
    for (let i = 0; i < MAX_BATCHES; i += 1) {
      const batch = await this.webhooks.purge(this.config.deliveryRetentionMs, BATCH);
      purged += batch;
      if (batch < BATCH) break;
    }
    if (requeued > 0) this.logger.warn({ requeued }, 'Webhook deliveries whose job was lost were queued again');
    return { requeued, purged };
  }

  /**
   * Whether neither the delivery's job nor the sweep's job for this attempt count will run: a delivery late only
   * because the queue is behind is left to its job. A finished sweep job (kept failed) is removed so its id is free.
   */
  private async jobGone(deliveryId: string, attempts: number): Promise<boolean> {
    const [job, swept] = await Promise.all([
      this.queue.getJob(webhookDeliveryJobId(deliveryId)),
      this.queue.getJob(webhookDeliverySweepJobId(deliveryId, attempts)),
    ]);
    for (const candidate of [job, swept]) {
      if (candidate && PENDING_STATES.includes(await candidate.getState())) return false;
    }
    if (swept) await swept.remove();
    return true;
  }
}
