import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { paypalConfig } from '../../config';
import { OutboxPublisher, WorkRunFirst } from '../../outbox/outbox.publisher';
import { signedString, signTransmission } from '../../payments/providers/paypal/paypal-webhook-signature';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { mockWebhookRetry } from '../../queues/retry-policies';
import { PaypalMockIdentity } from './paypal-mock.identity';
import { PaypalMockRepository } from './paypal-mock.repository';
import type { PaypalDeliveryPayload, PaypalMockEvent } from './paypal-mock.events';
import { providerRequest } from '../../payments/providers/provider-http';

/** A delivery job's data: its events, and the ones an earlier attempt delivered (`delivered`). */
export type PaypalDelivery = PaypalDeliveryPayload & { delivered?: string[] };

/** One attempt at a delivery's undelivered events: the ones it delivered now, and why the others were not. */
export interface PaypalDeliveryAttempt {
  statuses: number[];
  delivered: string[];
  failures: string[];
}

/**
 * Sends the mock's events. Every attempt is a new transmission (its own id and time) signed afresh, as PayPal does,
 * so retries over days are never stale; a non-2xx answer fails that event's attempt.
 *
 * The first attempt is made by the process that committed the events, right after the commit
 * (`OutboxPublisher.runFirst`): most deliveries never become a job. The delivery job is the fallback: queued
 * with what was refused after the first retry's backoff, at once when the attempt could not finish, or by the relay
 * when that process died first; BullMQ then retries it on PayPal's schedule (`PaypalMockDeliveryProcessor`).
 */
@Injectable()
export class PaypalMockDelivery implements OnModuleInit {
  private readonly logger = new Logger(PaypalMockDelivery.name);
  /** The first attempt's transmissions, stored with the change, by the delivery's payload (`prepareFirst`). */
  private readonly prepared = new WeakMap<PaypalDelivery, Transmission[]>();

  constructor(
    private readonly identity: PaypalMockIdentity,
    private readonly repository: PaypalMockRepository,
    private readonly publisher: OutboxPublisher,
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
  ) {}

  onModuleInit(): void {
    this.publisher.runFirst(QUEUES.sandboxWebhooks, JOBS.sandboxWebhooks.deliverPaypal, (row, timeoutMs) =>
      this.firstAttempt(row.payload as PaypalDelivery, timeoutMs),
    );
  }

  /**
   * The first attempt's transmissions of a delivery due at once, made (signed) before the change that queues it is
   * written, so that its statement stores them (`transmissionRows`) and the attempt right after the commit sends them
   * as they are. Kept by the delivery's payload object, which the attempt after the commit receives itself: a job,
   * whose payload was read back from the outbox, signs afresh.
   */
  async prepareFirst(delivery: PaypalDelivery): Promise<Transmission[]> {
    const transmissions = await this.transmissions(delivery);
    this.prepared.set(delivery, transmissions);
    return transmissions;
  }

  /**
   * Delivers the undelivered events of `delivery`, each a transmission of its own, all tried at once: one refused
   * does not hold back the others. `prepared`: the transmissions stored already (`prepareFirst`).
   */
  async attempt(delivery: PaypalDelivery, timeoutMs = 10000, prepared?: Transmission[]): Promise<PaypalDeliveryAttempt> {
    const { url, certUrl, delivered = [] } = delivery;
    const transmissions = prepared ?? (await this.transmissions(delivery));
    if (!prepared) await this.repository.insertTransmissions(transmissionRows(transmissions));
    const answers = await Promise.all(
      transmissions.map(({ raw, id, time, signature }) =>
        this.send(url, raw, { id, time, signature, certUrl }, timeoutMs).then(
          (status) => ({ status, failure: status >= 200 && status < 300 ? undefined : `answered ${status}` }),
          (error: unknown) => ({ status: 0, failure: (error as Error).message }),
        ),
      ),
    );
    return {
      statuses: answers.map(({ status }) => status),
      delivered: [...delivered, ...transmissions.filter((_, at) => !answers[at].failure).map(({ key }) => key)],
      failures: answers.flatMap(({ failure }) => (failure ? [failure] : [])),
    };
  }

  /** A new transmission (id, time, signature) of each undelivered event of `delivery`. */
  private async transmissions(delivery: PaypalDelivery): Promise<Transmission[]> {
    const { delivered = [] } = delivery;
    const events = 'events' in delivery ? delivery.events : [delivery.event];
    const identity = await this.identity.get();
    return events
      .map((event, index) => ({ event, key: deliveryKey(event, index) }))
      .filter(({ key }) => !delivered.includes(key))
      .map(({ event, key }) => {
        const raw = JSON.stringify(event);
        const id = randomUUID();
        const time = new Date().toISOString();
        const signature = signTransmission(identity.privateKey, signedString(id, time, this.config.webhookId, raw));
        return { event, key, raw, id, time, signature };
      });
  }

  /**
   * The first attempt, right after the commit. What it could not deliver is left to the job, due after the first
   * backoff (as BullMQ would retry a failed first run) with one attempt fewer; nothing, when that was the last.
   */
  private async firstAttempt(delivery: PaypalDelivery, timeoutMs: number): Promise<WorkRunFirst> {
    const prepared = this.prepared.get(delivery);
    this.prepared.delete(delivery);
    const { delivered, failures } = await this.attempt(delivery, timeoutMs, prepared);
    if (failures.length === 0) return { done: true };
    const retry = mockWebhookRetry(this.config);
    const attempts = this.config.mockWebhookAttempts;
    if (attempts <= 1) {
      this.logger.warn(`PayPal webhook delivery given up after its only attempt (${failures.join('; ')})`);
      return { done: true };
    }
    return {
      done: false,
      payload: { ...delivery, delivered },
      delayMs: this.config.mockWebhookBackoffMs,
      // The job is the second attempt: its backoff starts one doubling on, as a failed first run's would go on.
      options: { ...retry, attempts: attempts - 1, backoffMs: (retry.backoffMs ?? this.config.mockWebhookBackoffMs) * 2 },
    };
  }

  private async send(
    url: string,
    raw: string,
    transmission: { id: string; time: string; signature: string; certUrl: string },
    timeoutMs: number,
  ): Promise<number> {
    const response = await providerRequest(url, {
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
      timeoutMs,
    });
    return response.status;
  }
}

/** One transmission of an event: what is sent, and what the signature postback finds by its id. */
export interface Transmission {
  event: PaypalMockEvent;
  key: string;
  raw: string;
  id: string;
  time: string;
  signature: string;
}

/** The rows `paypal_mock_transmissions` keeps of transmissions. */
export function transmissionRows(transmissions: Transmission[]): { transmissionId: string; eventId: string; rawBody: string }[] {
  return transmissions.map(({ id, event, raw }) => ({ transmissionId: id, eventId: event.id, rawBody: raw }));
}

/** An event's place in its job: a duplicated event may be in one job twice, and each copy is delivered. */
function deliveryKey(event: PaypalMockEvent, index: number): string {
  return `${index}:${event.id}`;
}
