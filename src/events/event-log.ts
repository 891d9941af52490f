import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { NewOutboxRow } from '../outbox/outbox.repository';
import { OutboxMessage, OutboxService } from '../outbox/outbox.service';
import { fanOutEventJobId } from '../queues/job-ids';
import { JOBS, QUEUES } from '../queues/queue-names';
import { FAN_OUT_RETRY } from '../queues/retry-policies';
import type { EventRecipient, EventType } from './event-types';
import { EventsRepository, NewEvent } from './events.repository';

export interface EventToRecord {
  type: EventType;
  tradeId?: string;
  disputeId?: string;
  messageId?: string;
  /** The envelope's data as of the change: never a payment handle, never a message text (filled in at send time). */
  data: Record<string, unknown>;
  recipients: EventRecipient[];
  /** The jobs of the change the event tells of, written in the same statement as the event. */
  jobs?: OutboxMessage[];
}

/**
 * The event log: what clients are told of (streams, webhooks) is recorded here, in the transaction of the change it
 * tells of, with the outbox row of its fan-out. A rolled-back change tells nobody; a committed one always reaches
 * the sinks (at least once: a sink may see it twice and deduplicates by its id): the job keeps trying, and the
 * fan-out sweep queues again an event its job left without `fanned_out_at`. The event takes its place in commit
 * order (`stream_seq`) at its transaction's commit.
 */
@Injectable()
export class EventLog {
  constructor(
    private readonly events: EventsRepository,
    private readonly outbox: OutboxService,
  ) {}

  /**
   * An event and its fan-out's outbox row, for a repository that writes them in the one autocommit statement of
   * the change they tell of (`eventInsertCtes`).
   */
  prepare(event: Omit<EventToRecord, 'data'>): { event: Omit<NewEvent, 'data'>; fanOut: NewOutboxRow } {
    const id = randomUUID();
    return {
      event: {
        id,
        type: event.type,
        tradeId: event.tradeId ?? null,
        disputeId: event.disputeId ?? null,
        messageId: event.messageId ?? null,
        recipients: event.recipients,
      },
      fanOut: this.outbox.rowForStatement(fanOutMessage(id)),
    };
  }

  async record(manager: EntityManager, event: EventToRecord): Promise<string> {
    const id = randomUUID();
    // rowFor refuses a manager outside a transaction: an event must commit with its change or not at all.
    const fanOut = this.outbox.rowFor(manager, fanOutMessage(id));
    await this.events.insert(
      manager,
      {
        id,
        type: event.type,
        tradeId: event.tradeId ?? null,
        disputeId: event.disputeId ?? null,
        messageId: event.messageId ?? null,
        data: event.data,
        recipients: event.recipients,
      },
      [fanOut, ...(event.jobs ?? []).map((job) => this.outbox.rowFor(manager, job))],
    );
    return id;
  }
}

/** The job that fans an event out to its sinks. */
function fanOutMessage(eventId: string): OutboxMessage {
  return {
    queue: QUEUES.events,
    jobName: JOBS.events.fanOutEvent,
    jobId: fanOutEventJobId(eventId),
    payload: { eventId },
    retry: FAN_OUT_RETRY,
  };
}
