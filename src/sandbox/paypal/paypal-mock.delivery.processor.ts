import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { paypalConfig } from '../../config';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { signedString, signTransmission } from '../../payments/providers/paypal/paypal-webhook-signature';
import { HandlesJobs } from '../../queues/job-handlers';
import { PaypalMockIdentity } from './paypal-mock.identity';
import { SandboxUrls } from '../sandbox-urls';
import { PaypalMockPayouts } from './paypal-mock.payouts';
import { PaypalMockRepository } from './paypal-mock.repository';
import { Transactions } from '../../database/transactions';

/**
 * The mock's background work: delivering events, settling payout batches, returning unclaimed payouts.
 * Delivers one mock event. Every attempt is a new transmission (its own id and time) signed afresh, as
 * PayPal does, so retries over days are never stale; a non-2xx answer fails the attempt and BullMQ retries
 * it with backoff.
 */
@HandlesJobs('sandboxWebhooks', [
  JOBS.sandboxWebhooks.deliverPaypal,
  JOBS.sandboxWebhooks.settlePaypalPayout,
  JOBS.sandboxWebhooks.returnPaypalPayoutItem,
])
@Processor(QUEUES.sandboxWebhooks)
export class PaypalMockDeliveryProcessor extends WorkerHost {
  constructor(
    private readonly identity: PaypalMockIdentity,
    private readonly payouts: PaypalMockPayouts,
    private readonly transactions: Transactions,
    private readonly repository: PaypalMockRepository,
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
    private readonly urls: SandboxUrls,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case JOBS.sandboxWebhooks.deliverPaypal:
        return this.deliver(job.data as { event: { id: string }; url: string; certUrl: string });
      case JOBS.sandboxWebhooks.settlePaypalPayout: {
        const { batchId } = job.data as { batchId: string };
        await this.transactions.run((manager) => this.payouts.settle(manager, batchId, this.urls.mock('paypal')));
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

  private async deliver({ event, url, certUrl }: { event: { id: string }; url: string; certUrl: string }): Promise<{ status: number }> {
    const raw = JSON.stringify(event);
    const identity = await this.identity.get();
    const transmissionId = randomUUID();
    const transmissionTime = new Date().toISOString();
    const signature = signTransmission(identity.privateKey, signedString(transmissionId, transmissionTime, this.config.webhookId, raw));
    await this.repository.insertTransmission(transmissionId, event.id, raw);
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'paypal-transmission-id': transmissionId,
        'paypal-transmission-time': transmissionTime,
        'paypal-transmission-sig': signature,
        'paypal-cert-url': certUrl,
        'paypal-auth-algo': 'SHA256withRSA',
        'user-agent': 'PayPal/AUHD-214.0-58762374',
      },
      body: raw,
      signal: AbortSignal.timeout(10000),
    });
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`Webhook delivery answered ${response.status}`);
    return { status: response.status };
  }
}
