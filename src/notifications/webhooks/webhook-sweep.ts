import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { webhooksConfig } from '../../config';
import { webhookDeliverySweepJobId } from '../../queues/job-ids';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { WebhooksRepository } from './webhooks.repository';

const BATCH = 500;
const MAX_BATCHES = 20;

/**
 * Redis is a cache of work: a delivery whose job it lost is still pending in the log, long past its due time. The
 * sweep queues it again with the attempts it has left (a delivery late only because the queue is behind may be
 * sent twice: delivery is at least once), and purges the log past WEBHOOK_DELIVERY_RETENTION_MS.
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
    for (const { id, attempts } of lost) {
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
    if (lost.length > 0) this.logger.warn({ requeued: lost.length }, 'Webhook deliveries whose job was lost were queued again');
    return { requeued: lost.length, purged };
  }
}
