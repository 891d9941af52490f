import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntitySubscriberInterface, TransactionCommitEvent, TransactionRollbackEvent, TransactionStartEvent } from 'typeorm';
import { jobsConfig } from '../config';
import { byQueue, NewOutboxRow, outboxJob, PublishableRow, withTimeout } from './outbox-jobs';
import { observePublished } from './outbox-metrics';
import { forgetAll, forgetRolledBack, takeCommitted, TrackedOutboxRow } from './outbox-tracking';
import { OutboxRepository } from './outbox.repository';
import { PublisherQueues } from './publisher-queues';

/**
 * How long published ids wait for others before their mark, at most: one UPDATE for the rows of every transaction in
 * that time. A tenth of the after-commit lease (so the mark lands long before the relay could take a row: the
 * publish itself gives up at half the lease), and no more than a second, so a process marks about once a second
 * whatever its rate of commits.
 */
const MARK_LINGER_MAX_MS = 1000;

/**
 * Work the committing process may do itself right after the commit in place of queueing its job (`doHere`). It
 * must be what the job would do, and as idempotent: the job stays its fallback.
 */
export type WorkAfterCommit = (payload: Record<string, unknown>) => Promise<unknown>;

/**
 * Publishes the outbox rows a transaction wrote right after it commits, from the process that committed it (API
 * or worker), so work does not wait for the relay's wake, claim and one-at-a-time adds. Registered on the data
 * source as a subscriber, it sees every commit and rollback (every transaction goes through `DataSource.transaction`).
 *
 * - A rolled-back transaction publishes nothing: its rows are forgotten at the rollback, and publishing starts
 *   only after COMMIT returned.
 * - A committed row is always published: the relay takes any row still unpublished once its after-commit lease
 *   (`OUTBOX_AFTER_COMMIT_LEASE_MS`, from the insert) has run out: this process was killed, Redis did not answer.
 * - Never both: this process gives up on a row at half its lease (the adds time out then), and the relay leaves a
 *   row alone until the whole lease has passed; a job the relay adds again anyway is ignored by BullMQ (its id).
 *
 * The publish runs after the answer's commit without holding it: the caller's response does not wait on Redis.
 * The published marks are batched across transactions (one UPDATE a second at most, `MARK_LINGER_MAX_MS`), so the
 * publish adds no commit per transaction. The adds go through a connection of the publisher's own (`PublisherQueues`), on which a
 * command reaches Redis now or fails now: an add given up on cannot land later, after its rows went to the relay.
 *
 * Rows due at once whose job this process can do itself (`doHere`: the event fan-out) are not queued at all: the work
 * runs right after the commit, and only if it fails, or outlasts a quarter of the lease, is its job queued as above,
 * or left to the relay (work that outlasted its wait may still finish: done twice then, hence idempotent). Their mark
 * is the same: a row marked was done, by its job or here.
 *
 * A shutdown keeps publishing while the HTTP server drains (after `beforeApplicationShutdown`): the rows of the
 * requests still answering are published by this process, not left for another process's relay after their lease.
 */
@Injectable()
export class OutboxPublisher implements EntitySubscriberInterface, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxPublisher.name);
  private readonly inFlight = new Set<Promise<void>>();
  private toMark: string[] = [];
  private marking?: Promise<void>;
  /** Ends the mark's linger at once (a shutdown settling). */
  private markNow?: () => void;
  private settling = 0;
  private closed = false;
  private readonly markLingerMs: number;
  private readonly here = new Map<string, WorkAfterCommit>();

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly queues: PublisherQueues,
    private readonly outbox: OutboxRepository,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
  ) {
    this.markLingerMs = Math.min(MARK_LINGER_MAX_MS, Math.floor(config.outboxAfterCommitLeaseMs / 10));
    if (config.outboxPublishAfterCommit) dataSource.subscribers.push(this);
  }

  beforeTransactionStart(event: TransactionStartEvent): void {
    forgetAll(event.queryRunner);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    forgetRolledBack(event.queryRunner);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const rows = takeCommitted(event.queryRunner);
    if (rows.length === 0 || this.closed) return;
    const publishing = this.publish(rows).finally(() => this.inFlight.delete(publishing));
    this.inFlight.add(publishing);
  }

  /**
   * Publishes the rows of a change committed by one statement sent in autocommit (`OutboxService.rowForStatement`),
   * which no transaction of TypeORM's announces: `written` pairs each row with the id the statement returned,
   * `insertedAt` is this process's clock when the statement returned: not before the rows' `now()`, so a
   * delayed job is never due before its deadline, and the lease, counted from the insert, still leaves the
   * writer seconds to spare. Rows without a lease are the relay's.
   */
  publishWritten(written: { row: NewOutboxRow; id: string }[], insertedAt: number): void {
    const rows: TrackedOutboxRow[] = written
      .filter(({ row }) => row.afterCommitLeaseMs > 0)
      .map(({ row, id }) => ({ ...row, id, insertedAt, depth: 1 }));
    if (rows.length === 0 || this.closed) return;
    const publishing = this.publish(rows).finally(() => this.inFlight.delete(publishing));
    this.inFlight.add(publishing);
  }

  /**
   * Has this process do the `jobName` jobs of `queue` itself right after the commit that wrote their rows (those
   * due at once), instead of queueing them; a job is queued only when `work` fails or takes too long.
   */
  doHere(queue: string, jobName: string, work: WorkAfterCommit): void {
    this.here.set(`${queue}\u0000${jobName}`, work);
  }

  /**
   * Lets the publishes under way finish and their marks be written while the database is still open. Publishing goes
   * on: the HTTP server closes after this, and the requests it still answers commit rows too.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.settle();
  }

  /**
   * Publishes nothing more (a row committed from now on is the relay's, after its lease), settles what is under way
   * and closes the publisher's connection. The database may be closed by now: a mark that fails leaves its rows to
   * be added again by a relay after their lease, which BullMQ ignores (their job ids).
   */
  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.settle();
    await this.queues.close();
  }

  private async settle(): Promise<void> {
    this.settling += 1;
    try {
      await Promise.allSettled([...this.inFlight]);
      this.markNow?.();
      await this.marking;
    } finally {
      this.settling -= 1;
    }
  }

  private async publish(rows: TrackedOutboxRow[]): Promise<void> {
    const giveUpAt = Math.min(...rows.map((row) => row.insertedAt)) + this.config.outboxAfterCommitLeaseMs / 2;
    const toQueue: PublishableRow[] = [];
    const toDo: [PublishableRow, WorkAfterCommit][] = [];
    for (const row of rows.map(publishable)) {
      const work = row.remainingDelayMs === 0 ? this.here.get(`${row.queue}\u0000${row.jobName}`) : undefined;
      if (work) toDo.push([row, work]);
      else toQueue.push(row);
    }
    await Promise.all([this.add(toQueue, giveUpAt), toDo.length > 0 ? this.work(toDo, giveUpAt) : undefined]);
  }

  /** Does the rows' work here; what fails, or takes more than half the time left, is queued after all. */
  private async work(rows: [PublishableRow, WorkAfterCommit][], giveUpAt: number): Promise<void> {
    const failed: PublishableRow[] = [];
    await Promise.all(
      rows.map(async ([row, work]) => {
        try {
          await withTimeout(work(row.payload), Math.max(0, (giveUpAt - Date.now()) / 2), 'work after commit');
          observePublished([row], 'writer');
          this.mark([row.id]);
        } catch (error) {
          failed.push(row);
          this.logger.warn(`${row.queue} ${row.jobName} after commit failed (${(error as Error).message}); its job is queued`);
        }
      }),
    );
    await this.add(failed, giveUpAt);
  }

  private async add(rows: PublishableRow[], giveUpAt: number): Promise<void> {
    await Promise.all(
      [...byQueue(rows).entries()].map(async ([queue, group]) => {
        const left = giveUpAt - Date.now();
        if (left <= 0 || !this.queues.has(queue)) return;
        try {
          await withTimeout(this.queues.get(queue).addBulk(group.map(outboxJob)), left, 'publish after commit');
          observePublished(group, 'writer');
          this.mark(group.map((row) => row.id));
        } catch (error) {
          // Left to the relay once the rows' lease runs out.
          this.logger.warn(`Outbox rows of ${queue} left to the relay (${(error as Error).message})`);
        }
      }),
    );
  }

  private mark(ids: string[]): void {
    this.toMark.push(...ids);
    this.marking ??= this.markLoop().finally(() => (this.marking = undefined));
  }

  private async markLoop(): Promise<void> {
    while (this.toMark.length > 0) {
      if (this.settling === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.markLingerMs);
          this.markNow = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.markNow = undefined;
      }
      const ids = this.toMark;
      this.toMark = [];
      try {
        await this.outbox.markPublished(ids);
      } catch (error) {
        // Unmarked, the rows are published again by the relay after their lease: BullMQ ignores the job ids it holds.
        this.logger.warn(`Published outbox rows not marked (${(error as Error).message}); the relay publishes them again`);
      }
    }
  }
}

function publishable(row: TrackedOutboxRow): PublishableRow {
  const dueAtMs = row.insertedAt + row.delayMs;
  return {
    id: row.id,
    queue: row.queue,
    jobName: row.jobName,
    jobId: row.jobId,
    payload: row.payload,
    remainingDelayMs: row.delayMs > 0 ? Math.max(0, dueAtMs - Date.now()) : 0,
    options: row.options,
    dueAtMs,
  };
}
