import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { paypalConfig } from '../../config';
import type { NewOutboxRow } from '../../outbox/outbox.repository';
import { OutboxMessage, OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { FaultSettings, webhookCopies } from '../faults';
import { FaultsService } from '../faults.service';
import { SandboxUrls } from '../sandbox-urls';
import { paypalWebhookJobId } from '../../queues/job-ids';
import { mockWebhookRetry } from '../../queues/retry-policies';
import { PAYPAL_MOCK_CERT_ID } from './paypal-mock.identity';
import type { PaypalEventType, PaypalMockEvent } from './paypal-mock.events';
import { PaypalDelivery, PaypalMockDelivery, transmissionRows } from './paypal-mock.delivery';
import type { TransmissionRow } from './paypal-mock.repository';

const RESOURCE_TYPES: Record<PaypalEventType, string> = {
  'CHECKOUT.ORDER.APPROVED': 'checkout-order',
  'PAYMENT.AUTHORIZATION.CREATED': 'authorization',
  'PAYMENT.AUTHORIZATION.VOIDED': 'authorization',
  'PAYMENT.CAPTURE.COMPLETED': 'capture',
  'PAYMENT.CAPTURE.REFUNDED': 'capture',
  'PAYMENT.PAYOUTSBATCH.SUCCESS': 'payouts',
  'PAYMENT.PAYOUTS-ITEM.SUCCEEDED': 'payouts_item',
  'PAYMENT.PAYOUTS-ITEM.UNCLAIMED': 'payouts_item',
  'PAYMENT.PAYOUTS-ITEM.RETURNED': 'payouts_item',
};

/** What a change written in one statement writes for its events: their outbox rows and first transmissions. */
export interface PaypalWebhookWrites {
  ids: string[];
  rows: NewOutboxRow[];
  transmissions: TransmissionRow[];
}

/** An event of a change: its type and the resource it reports. */
export interface PaypalEventInput {
  type: PaypalEventType;
  resource: Record<string, unknown>;
}

/**
 * The events the mock sends, queued through the outbox in the same transaction as the change they report
 * (a crash never loses one). The webhook faults act here: dropped events are never queued, duplicated ones
 * twice, reordered ones with a random delay. The copies of one change's events that are due at the same time go
 * in one job (a settled payout batch's item and batch events), each still a delivery of its own. Each delivery is
 * signed when it is sent. Where it goes and the certificate it names come from configuration (SandboxUrls), never
 * from the request that caused the event.
 */
@Injectable()
export class PaypalMockWebhooks {
  constructor(
    private readonly outbox: OutboxService,
    private readonly faults: FaultsService,
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
    private readonly urls: SandboxUrls,
    private readonly delivery: PaypalMockDelivery,
  ) {}

  async emit(manager: EntityManager, type: PaypalEventType, resource: Record<string, unknown>): Promise<string> {
    return (await this.emitAll(manager, [{ type, resource }]))[0];
  }

  /** Queues the events of one change, in this order, in the change's transaction; answers their ids. */
  async emitAll(manager: EntityManager, events: PaypalEventInput[]): Promise<string[]> {
    const { ids, messages } = this.messages(events, await this.faults.get('paypal', manager));
    for (const message of messages) await this.outbox.write(manager, message);
    return ids;
  }

  /**
   * The outbox rows of one change's events, for a change written in one statement sent in autocommit
   * (`sandbox-statement.ts`), and the transmissions of the deliveries due at once, made now for that statement to store
   * (`PaypalMockDelivery.prepareFirst`); its writer hands the rows to `published` with the ids the statement returned.
   */
  async forStatement(events: PaypalEventInput[]): Promise<PaypalWebhookWrites> {
    const { ids, messages } = this.messages(events, await this.faults.get('paypal'));
    const rows = messages.map((message) => this.outbox.rowForStatement(message));
    const transmissions: TransmissionRow[] = [];
    for (const row of rows) {
      // Only what this process sends right after the commit (none when the relay publishes every row).
      if (row.delayMs > 0 || !row.afterCommitLeaseMs) continue;
      transmissions.push(...transmissionRows(await this.delivery.prepareFirst(row.payload as PaypalDelivery)));
    }
    return { ids, rows, transmissions };
  }

  /** Sends (right after the commit) what a statement wrote from `forStatement`, by the ids it returned. */
  published(rows: NewOutboxRow[], outboxIds: string[]): void {
    this.outbox.publishWritten(
      rows.map((row, i) => ({ row, id: outboxIds[i] })),
      Date.now(),
    );
  }

  /** The events and the outbox messages of their copies (the webhook faults act here). */
  private messages(events: PaypalEventInput[], settings: FaultSettings): { ids: string[]; messages: OutboxMessage[] } {
    const base = this.urls.mock('paypal');
    /** Each copy to queue, by its delay: the event and which copy it is. */
    const due = new Map<number, { event: PaypalMockEvent; copy: number }[]>();
    const built = events.map(({ type, resource }) => {
      const event = this.event(base, type, resource);
      for (const [copy, delayMs] of webhookCopies(settings, event.id).entries()) {
        due.set(delayMs, [...(due.get(delayMs) ?? []), { event, copy }]);
      }
      return event;
    });
    const target = {
      url: this.config.mockWebhookUrl ?? this.urls.callback('paypal'),
      certUrl: `${base}/v1/notifications/certs/${PAYPAL_MOCK_CERT_ID}`,
    };
    const messages = [...due].map(([delayMs, copies]): OutboxMessage => {
      const first = copies[0];
      return {
        queue: QUEUES.sandboxWebhooks,
        jobName: JOBS.sandboxWebhooks.deliverPaypal,
        // Each copy is in one job only: the first one's id names it.
        jobId: paypalWebhookJobId(first.event.id, first.copy),
        payload: copies.length === 1 ? { event: first.event, ...target } : { events: copies.map(({ event }) => event), ...target },
        delayMs,
        retry: mockWebhookRetry(this.config),
      };
    });
    return { ids: built.map((event) => event.id), messages };
  }

  private event(base: string, type: PaypalEventType, resource: Record<string, unknown>): PaypalMockEvent {
    const resourceId = String(
      resource.id ?? resource.payout_item_id ?? (resource.batch_header as { payout_batch_id?: string })?.payout_batch_id,
    );
    const id = `WH-${randomUUID().replace(/-/g, '').slice(0, 17).toUpperCase()}-${randomUUID().slice(0, 8).toUpperCase()}`;
    return {
      id,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type: RESOURCE_TYPES[type],
      resource_version: '2.0',
      event_type: type,
      summary: `${type} for ${resourceId}`,
      resource,
      links: [{ href: `${base}/v1/notifications/webhooks-events/${id}`, rel: 'self', method: 'GET' }],
    };
  }
}
