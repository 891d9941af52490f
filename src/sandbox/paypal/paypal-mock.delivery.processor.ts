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
import type { PaypalDeliveryPayload, PaypalMockEvent } from './paypal-mock.webhooks';
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
        return this.deliverAll(job as Job<PaypalDeliveryPayload & { delivered?: string[] }>);
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

  /**
   * Delivers the job's events, each a transmission of its own, all tried at every attempt: one refused does not
   * hold back the others. The ones delivered are kept in the job, so a retry sends only the ones still refused.
   */
  private async deliverAll(job: Job<PaypalDeliveryPayload & { delivered?: string[] }>): Promise<{ status: number | number[] }> {
    const { url, certUrl, delivered = [] } = job.data;
    const events = 'events' in job.data ? job.data.events : [job.data.event];
    const identity = await this.identity.get();
    const transmissions = events
      .map((event, index) => ({ event, key: deliveryKey(event, index) }))
      .filter(({ key }) => !delivered.includes(key))
      .map(({ event, key }) => {
        const raw = JSON.stringify(event);
        const id = randomUUID();
        const time = new Date().toISOString();
        const signature = signTransmission(identity.privateKey, signedString(id, time, this.config.webhookId, raw));
        return { event, key, raw, id, time, signature };
      });
    await this.repository.insertTransmissions(
      transmissions.map(({ id, event, raw }) => ({ transmissionId: id, eventId: event.id, rawBody: raw })),
    );
    const answers = await Promise.all(
      transmissions.map(({ raw, id, time, signature }) =>
        this.send(url, raw, { id, time, signature, certUrl }).then(
          (status) => ({ status, failure: status >= 200 && status < 300 ? undefined : `answered ${status}` }),
          (error: unknown) => ({ status: 0, failure: (error as Error).message }),
        ),
      ),
    );
    const failures = answers.flatMap(({ failure }) => (failure ? [failure] : []));
    if (failures.length === 0) return { status: answers.length === 1 ? answers[0].status : answers.map(({ status }) => status) };
    const done = transmissions.filter((_, at) => !answers[at].failure).map(({ key }) => key);
    if (done.length > 0) await job.updateData({ ...job.data, delivered: [...delivered, ...done] });
    throw new Error(`Webhook delivery ${failures.join('; ')}`);
  }

  private async send(
    url: string,
    raw: string,
    transmission: { id: string; time: string; signature: string; certUrl: string },
  ): Promise<number> {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'paypal-transmission-id': transmission.id,
        'paypal-transmission-time': transmission.time,
        'paypal-transmission-sig': transmission.signature,
        'paypal-cert-url': transmission.certUrl,
        'paypal-auth-algo': 'SHA256withRSA',
        'user-agent': 'PayPal/AUHD-214.0-58762374',
      },
      body: raw,
      signal: AbortSignal.timeout(10000),
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.status;
  }
}

/** An event's place in its job: a duplicated event may be in one job twice, and each copy is delivered. */
function deliveryKey(event: PaypalMockEvent, index: number): string {
  return `${index}:${event.id}`;
}
