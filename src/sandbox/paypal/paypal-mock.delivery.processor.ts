import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { HandlesJobs } from '../../queues/job-handlers';
import { SandboxUrls } from '../sandbox-urls';
import { PaypalDelivery, PaypalMockDelivery } from './paypal-mock.delivery';
import { PaypalMockPayouts } from './paypal-mock.payouts';
import { Transactions } from '../../database/transactions';

/**
 * The mock's background work: delivering events (the retries of what the first attempt, right after the commit, could
 * not deliver: `PaypalMockDelivery`), settling payout batches, returning unclaimed payouts. A non-2xx answer fails
 * the attempt and BullMQ retries it with backoff.
 */
@HandlesJobs('sandboxWebhooks', [
  JOBS.sandboxWebhooks.deliverPaypal,
  JOBS.sandboxWebhooks.settlePaypalPayout,
  JOBS.sandboxWebhooks.returnPaypalPayoutItem,
])
@Processor(QUEUES.sandboxWebhooks)
export class PaypalMockDeliveryProcessor extends WorkerHost {
  constructor(
    private readonly delivery: PaypalMockDelivery,
    private readonly payouts: PaypalMockPayouts,
    private readonly transactions: Transactions,
    private readonly urls: SandboxUrls,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case JOBS.sandboxWebhooks.deliverPaypal:
        return this.deliverAll(job as Job<PaypalDelivery>);
      case JOBS.sandboxWebhooks.settlePaypalPayout: {
        const { batchId } = job.data as { batchId: string };
        await this.payouts.settle(batchId, this.urls.mock('paypal'));
        return { settled: batchId };
      }
      case JOBS.sandboxWebhooks.returnPaypalPayoutItem: {
        const { itemId } = job.data as { itemId: string };
        await this.transactions.run((manager) => this.payouts.returnUnclaimed(manager, itemId, this.urls.mock('paypal')));
        return { returned: itemId };
      }
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.sandboxWebhooks}`);
    }
  }

  /** Tries the job's undelivered events; keeps the ones delivered in the job, so a retry sends only the ones still refused. */
  private async deliverAll(job: Job<PaypalDelivery>): Promise<{ status: number | number[] }> {
    const { statuses, delivered, failures } = await this.delivery.attempt(job.data);
    if (failures.length === 0) return { status: statuses.length === 1 ? statuses[0] : statuses };
    if (delivered.length > (job.data.delivered ?? []).length) await job.updateData({ ...job.data, delivered });
    throw new Error(`Webhook delivery ${failures.join('; ')}`);
  }
}
