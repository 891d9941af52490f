import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { jobsConfig } from '../config';
import { assertJobId, QueueName } from '../queues/queue-names';
import type { JobRetryOptions } from '../queues/retry-policies';
import { OutboxPublisher } from './outbox.publisher';
import { NewOutboxRow, OutboxRepository } from './outbox.repository';

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
 * The only way work reaches the queues: rows written in the caller's transaction, published after commit by the
 * process that wrote them (`OutboxPublisher`), or by the relay if that process could not. A rolled-back transaction
 * enqueues nothing; a committed one always enqueues.
 */
@Injectable()
export class OutboxService {
  constructor(
    private readonly outbox: OutboxRepository,
    @Inject(jobsConfig.KEY)
    private readonly config: Pick<ConfigType<typeof jobsConfig>, 'outboxPublishAfterCommit' | 'outboxAfterCommitLeaseMs'>,
    private readonly publisher?: OutboxPublisher,
  ) {}

  async write(manager: EntityManager, message: OutboxMessage): Promise<string> {
    return this.outbox.insert(manager, this.rowFor(manager, message));
  }

  /**
   * The row `write` would insert, for a repository that writes it in the same statement as the rest of its
   * change (`outboxInsertSql`, then `trackOutboxRow` with the id it returned); checked as `write` checks it.
   */
  rowFor(manager: EntityManager, message: OutboxMessage): NewOutboxRow {
    if (!manager.queryRunner?.isTransactionActive) {
      throw new Error('Outbox rows must be written inside the transaction of the change they belong to');
    }
    return this.rowForStatement(message);
  }

  /**
   * The row for a change written by ONE statement sent in autocommit: that statement is the change's whole
   * transaction, so the row commits with it or not at all. Its writer hands the ids the statement returned to
   * `OutboxPublisher.publishWritten` (no transaction of TypeORM's tells the publisher of its commit).
   */
  rowForStatement(message: OutboxMessage): NewOutboxRow {
    return {
      queue: message.queue,
      jobName: message.jobName,
      jobId: assertJobId(message.jobId),
      payload: message.payload,
      delayMs: Math.max(0, Math.trunc(message.delayMs ?? 0)),
      options: message.retry ?? {},
      afterCommitLeaseMs: this.config.outboxPublishAfterCommit ? this.config.outboxAfterCommitLeaseMs : 0,
    };
  }

  /**
   * Publishes what one statement sent in autocommit wrote (rows from `rowForStatement`, each with the id the
   * statement returned) right away; the relay takes any the publish misses, once their lease has run out.
   * `insertedAt` is this process's clock when the statement returned: not before the rows' `now()`, so a
   * delayed job is never due before its deadline, and the lease, counted from the insert, still leaves the
   * writer seconds to spare.
   */
  publishWritten(written: { row: NewOutboxRow; id: string }[], insertedAt: number): void {
    this.publisher?.publishWritten(written, insertedAt);
  }
}
