import { AsyncResource } from 'node:async_hooks';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntitySubscriberInterface, TransactionCommitEvent, TransactionRollbackEvent, TransactionStartEvent } from 'typeorm';
import { jobsConfig } from '../config';
import { byQueue, NewOutboxRow, outboxJob, PublishableRow, TimedOut, withTimeout } from './outbox-jobs';
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
 * What a row's work run by its writer right after the commit left to do: nothing (the row is done, no job), or the
 * job to queue after all, changed as given (what is left of the work, when it is due, its retries).
 */
export type WorkRunFirst =
  { done: true } | { done: false; payload?: Record<string, unknown>; delayMs?: number; options?: PublishableRow['options'] };

/** Runs a row's work in the process that committed it, within `timeoutMs` (what is left after it is the fallback's). */
export type RunFirst = (row: { jobId: string; payload: Record<string, unknown> }, timeoutMs: number) => Promise<WorkRunFirst>;

/** A registration of `runFirst`, with the runs of its work under way in this process. */
interface RunsFirst {
  run: RunFirst;
  limit: number;
  maxDelayMs: number;
  overrunDelayMs: number;
  running: number;
}

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
 *   A row whose work ran here (`runFirst`) has no job: if its mark is lost (the UPDATE failed, the process was
 *   killed within the mark's linger), the relay adds its job after the lease and the work runs a second time,
 *   which is why such work must be idempotent.
 *
 * The publish runs after the answer's commit without holding it: the caller's response does not wait on Redis.
 * The published marks are batched across transactions (one UPDATE a second at most, `MARK_LINGER_MAX_MS`), so the
 * publish adds no commit per transaction. The adds go through a connection of the publisher's own (`PublisherQueues`), on which a
 * command reaches Redis now or fails now: an add given up on cannot land later, after its rows went to the relay.
 *
 * Rows whose work this process can do itself (`runFirst`: the event fan-out, the mocks' webhooks) are not queued at
 * all when the work succeeds: it runs right after the commit (or when due, for a short delay), and only if it fails,
 * or outlasts its budget, is its job queued as above, or left to the relay (work that outlasted its wait may still
 * finish: done twice then, hence idempotent). Their mark is the same: a row marked was done, by its job or here.
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
  private readonly runsFirst = new Map<string, RunsFirst>();
  /** Work waiting for its time, woken at shutdown to go to its job instead; each removed when its timer fires. */
  private readonly waiting = new Set<() => void>();
  /** Work run here that is still going on, whether or not its publish still waits for it (it may have outlasted its budget). */
  private readonly runsUnderWay = new Set<Promise<unknown>>();
  private stopped = false;
  /**
   * The context of no request, made at start: publishing and the work run after a commit go on in it, not in the
   * committing request's. That work is not the request's change: its transactions must not be fenced by the
   * request's Idempotency-Key claim while the request has not answered (an UPDATE of the key's row under its lock, and
   * a refusal, rolled back, once a retry took the key over), nor its log lines carry the request's.
   */
  private readonly detached = new AsyncResource('OutboxPublisher');

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
    const publishing = this.detached.runInAsyncScope(() => this.publish(rows)).finally(() => this.inFlight.delete(publishing));
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
    const publishing = this.detached.runInAsyncScope(() => this.publish(rows)).finally(() => this.inFlight.delete(publishing));
    this.inFlight.add(publishing);
  }

  /**
   * Has this process run the work of `jobName`'s rows itself, right after their commit (or when they are due, for a
   * delay of at most a quarter of the lease, `OUTBOX_AFTER_COMMIT_LEASE_MS`), instead of queueing their job: the job
   * is only the fallback, queued when the work is not done (`done: false`, an error, no answer in time), when the
   * process shuts down while the work waits for its time, or by the relay after the row's lease when this process
   * died first. The work must be idempotent as the job is (both may run after a crash or a timeout), and answers
   * within `timeoutMs`; the job is queued, if it must be, before half the row's lease, so the relay never queues it
   * as well. A longer delay is the job's from the start, as is any delay for work registered `atOnceOnly` (a
   * poll, which a removal from its queue must be able to cancel), and a row that finds `limit` runs of its work
   * under way in this process (as a worker runs so many jobs at once). Work that throws has its job due at once; work
   * that outlasts its budget too, or `overrunDelayMs` later: it is still running (a settlement holding its trade's
   * claim), and its job due at once would only find it busy. A process shutting down runs no more work: its rows go
   * to their jobs.
   */
  runFirst(
    queue: string,
    jobName: string,
    run: RunFirst,
    options: { limit?: number; atOnceOnly?: boolean; overrunDelayMs?: number } = {},
  ): void {
    this.runsFirst.set(`${queue}\0${jobName}`, {
      run,
      limit: options.limit ?? Infinity,
      maxDelayMs: options.atOnceOnly ? 0 : this.config.outboxAfterCommitLeaseMs / 4,
      overrunDelayMs: options.overrunDelayMs ?? 0,
      running: 0,
    });
  }

  /**
   * Lets the publishes under way finish and their marks be written while the database is still open, and the work run
   * here end (for up to the after-commit lease: a settlement past its budget still holds its trade's claim, which only
   * its own end gives back before the claim's lease). Publishing goes on: the HTTP server closes after this, and the
   * requests it still answers commit rows too, whose work now goes to its job.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.waiting]) wake();
    await this.settle();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.runsUnderWay]),
      new Promise((resolve) => (timer = setTimeout(resolve, this.config.outboxAfterCommitLeaseMs))),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Publishes nothing more (a row committed from now on is the relay's, after its lease), settles what is under way
   * and closes the publisher's connection. The database may be closed by now: a mark that fails leaves its rows to
   * be added again by a relay after their lease, which BullMQ ignores (their job ids), or whose work runs again.
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
    // A row's work runs here when it is registered, due soon enough, and a run of it is free in this process.
    const toRun: { row: TrackedOutboxRow; work: RunsFirst }[] = [];
    const toAdd: TrackedOutboxRow[] = [];
    for (const row of rows) {
      const work = this.runsFirst.get(`${row.queue}\0${row.jobName}`);
      if (work && !this.stopped && row.delayMs <= work.maxDelayMs && work.running < work.limit) {
        work.running += 1;
        toRun.push({ row, work });
      } else {
        toAdd.push(row);
      }
    }
    await Promise.all([
      this.add(toAdd.map(publishable), giveUpAt),
      ...toRun.map(async ({ row, work }) => {
        // A run is counted until its work ends, not only until this publish stops waiting for it (its budget ran
        // out): work a slow provider holds still counts against the limit, and rows past it go to their jobs.
        let started = false;
        const counted: RunFirst = (job, timeoutMs) => {
          started = true;
          const running = work.run(job, timeoutMs).finally(() => {
            work.running -= 1;
            this.runsUnderWay.delete(running);
          });
          this.runsUnderWay.add(running);
          return running;
        };
        let left: PublishableRow | undefined;
        try {
          left = await this.runOne(row, counted, work.overrunDelayMs, giveUpAt);
        } finally {
          if (!started) work.running -= 1;
        }
        if (left) await this.add([left], giveUpAt);
      }),
    ]);
  }

  /** Runs one row's work here when it is due; answers the job still to queue, if any (marked as published when none). */
  private async runOne(
    row: TrackedOutboxRow,
    run: RunFirst,
    overrunDelayMs: number,
    giveUpAt: number,
  ): Promise<PublishableRow | undefined> {
    const wait = row.insertedAt + row.delayMs - Date.now();
    if (wait > 0) {
      if (this.stopped) return publishable(row);
      const due = await new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiting.delete(wake);
          resolve(false);
        };
        const timer = setTimeout(() => {
          this.waiting.delete(wake);
          resolve(true);
        }, wait);
        this.waiting.add(wake);
      });
      if (!due) return publishable(row);
    }
    // What is left before giving up, less a quarter of it (at most a second) to queue the fallback after the work; the
    // work is told a little less, so that its own time-out (an unanswered delivery, a refusal) is what usually ends it.
    const left = giveUpAt - Date.now();
    const budgetMs = Math.floor(left - Math.min(left / 4, 1000));
    if (budgetMs <= 0) return publishable(row);
    let outcome: WorkRunFirst;
    try {
      outcome = await withTimeout(
        run({ jobId: row.jobId, payload: row.payload }, Math.floor(budgetMs * 0.9)),
        budgetMs,
        'work after commit',
      );
    } catch (error) {
      this.logger.warn(`Work of outbox row ${row.id} (${row.jobName}) queued as its job (${(error as Error).message})`);
      return error instanceof TimedOut && overrunDelayMs > 0 ? dueIn(publishable(row), overrunDelayMs) : publishable(row);
    }
    if (outcome.done) {
      observePublished([publishable(row)], 'writer');
      this.mark([row.id]);
      return undefined;
    }
    return dueIn(
      { ...publishable(row), payload: outcome.payload ?? row.payload, options: outcome.options ?? row.options },
      outcome.delayMs ?? 0,
    );
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
        // Unmarked, the rows are published again by the relay after their lease: BullMQ ignores the job ids it holds;
        // a row whose work ran here (`runFirst`) runs again as its job.
        this.logger.warn(`Published outbox rows not marked (${(error as Error).message}); the relay publishes them again`);
      }
    }
  }
}

/** A row's job due `delayMs` from now. */
function dueIn(row: PublishableRow, delayMs: number): PublishableRow {
  const remainingDelayMs = Math.max(0, Math.trunc(delayMs));
  return { ...row, remainingDelayMs, dueAtMs: Date.now() + remainingDelayMs };
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
