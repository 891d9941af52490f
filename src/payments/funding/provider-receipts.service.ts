import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { FieldEncryption } from '../../common/crypto/field-encryption';
import type { NewOutboxRow } from '../../outbox/outbox.repository';
import { OutboxMessage, OutboxService } from '../../outbox/outbox.service';
import type { TradeState } from '../../trades/trade.state-machine';
import { ProviderEventsRepository, TradeKey } from './provider-events.repository';

/** Encryption context of stored provider event bodies. */
export const PROVIDER_EVENT_CONTEXT = 'provider_events.raw_body';

export interface ReceivedEvent {
  provider: 'paypal' | 'bank' | 'wechat';
  eventId: string;
  eventType: string;
  /** The body as received, stored encrypted. */
  raw: string;
  /** Queued with the event, the first time it is received. */
  jobs: OutboxMessage[];
  /** The trade the event names (found while the event is stored) and the job it asks for that trade. */
  trade?: {
    key: TradeKey;
    value: string;
    job: (tradeId: string) => OutboxMessage;
    /** A funding check, asked for only of a trade in one of these states (`FundingService.check`'s pending mark). */
    checkIn?: readonly TradeState[];
  };
}

/**
 * A provider's event received: stored once under its id with the work it asks for, in one statement
 * (`ProviderEventsRepository.receive`), durable before the answer; its outbox rows published right after.
 */
@Injectable()
export class ProviderReceipts {
  constructor(
    private readonly events: ProviderEventsRepository,
    private readonly outbox: OutboxService,
    private readonly encryption: FieldEncryption,
  ) {}

  /** False when the event had been received before (nothing was done twice). */
  async receive(event: ReceivedEvent): Promise<{ fresh: boolean }> {
    const jobs = event.jobs.map((job) => this.outbox.rowForStatement(job));
    // The trade's job as the statement writes it, its trade id a slot the statement fills in with the trade it finds.
    const slot = randomUUID();
    const trade = event.trade && {
      key: event.trade.key,
      value: event.trade.value,
      slot,
      job: this.outbox.rowForStatement(event.trade.job(slot)),
      check: event.trade.checkIn && { states: event.trade.checkIn },
    };
    const received = await this.events.receive({
      provider: event.provider,
      eventId: event.eventId,
      eventType: event.eventType,
      raw: this.encryption.encrypt(event.raw, PROVIDER_EVENT_CONTEXT),
      jobs,
      trade,
    });
    const insertedAt = Date.now();
    const written: { row: NewOutboxRow; id: string }[] = received.jobIds.map((id, i) => ({ row: jobs[i], id }));
    if (event.trade && received.tradeJobId && received.tradeId) {
      written.push({ row: this.outbox.rowForStatement(event.trade.job(received.tradeId)), id: received.tradeJobId });
    }
    this.outbox.publishWritten(written, insertedAt);
    return { fresh: received.fresh };
  }
}
