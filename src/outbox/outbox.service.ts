import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { assertJobId, QueueName } from '../queues/queue-names';
import { JobRetryOptions, OutboxRepository } from './outbox.repository';

export interface OutboxMessage {
  queue: QueueName;
  jobName: string;
  /** Derived from the data (`deadline-<tradeId>-funding`), so the same work is never queued twice. */
  jobId: string;
  payload: Record<string, unknown>;
  delayMs?: number;
  /** Only where the queue's default retry policy does not fit. */
  retry?: JobRetryOptions;
}

/**
 * The only way work reaches the queues: rows written in the caller's transaction, published by the
 * relay after commit. A rolled-back transaction enqueues nothing; a committed one always enqueues.
 */
@Injectable()
export class OutboxService {
  constructor(private readonly outbox: OutboxRepository) {}

  async write(manager: EntityManager, message: OutboxMessage): Promise<string> {
    if (!manager.queryRunner?.isTransactionActive) {
      throw new Error('Outbox rows must be written inside the transaction of the change they belong to');
    }
    return this.outbox.insert(manager, {
      queue: message.queue,
      jobName: message.jobName,
      jobId: assertJobId(message.jobId),
      payload: message.payload,
      delayMs: Math.max(0, Math.trunc(message.delayMs ?? 0)),
      options: message.retry ?? {},
    });
  }
}
