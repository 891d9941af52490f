import type { JobsOptions } from 'bullmq';
import type { JobRetryOptions } from '../queues/retry-policies';

/** An outbox row to insert, as `OutboxService.rowFor` builds it. */
export interface NewOutboxRow {
  queue: string;
  jobName: string;
  jobId: string;
  payload: Record<string, unknown>;
  /**
   * From PostgreSQL's `now()`, the start of the writing transaction: a deadline stored by the same transaction as
   * `now() + <the same delay>` is exactly the row's due time. Any length fits (`run_at` is a timestamp).
   */
  delayMs: number;
  options: JobRetryOptions;
  /**
   * Above 0: the writing process publishes the row right after its commit, and the relay leaves it alone for this
   * long from its insert (the fallback if that process dies first). 0: the relay publishes it, woken by the commit.
   */
  afterCommitLeaseMs: number;
}

/** An outbox row as BullMQ is to receive it, from the relay's claim or from the writer after its commit. */
export interface PublishableRow {
  id: string;
  queue: string;
  jobName: string;
  jobId: string;
  payload: Record<string, unknown>;
  /** What is left until the job is due; 0: at once. */
  remainingDelayMs: number;
  options: JobRetryOptions;
  /** When the job became due, in epoch ms (its row's insert for work due at once). */
  dueAtMs: number;
}

/**
 * The job BullMQ is to hold for `row`. A job due at once is stamped with the time it became due (`timestamp`), so the
 * worker can tell the whole hop from the outbox row to its start; a delayed job keeps BullMQ's own stamp, from which
 * BullMQ counts its delay.
 */
export function outboxJob(row: PublishableRow): { name: string; data: Record<string, unknown>; opts: JobsOptions } {
  return {
    name: row.jobName,
    data: row.payload,
    opts: {
      jobId: row.jobId,
      ...(row.remainingDelayMs > 0 ? { delay: row.remainingDelayMs } : { timestamp: row.dueAtMs }),
      ...(row.options.attempts ? { attempts: row.options.attempts } : {}),
      ...(row.options.backoffMs
        ? {
            backoff: {
              type: row.options.backoffType ?? 'exponential',
              delay: row.options.backoffMs,
              ...(row.options.backoffCapMs ? { capMs: row.options.backoffCapMs } : {}),
            },
          }
        : {}),
    },
  };
}

/** The rows by queue, each queue's in the rows' order: one `addBulk` (one round trip to Redis) per queue. */
export function byQueue<T extends { queue: string }>(rows: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.queue);
    if (group) group.push(row);
    else groups.set(row.queue, [row]);
  }
  return groups;
}

/** What `withTimeout` rejects with when the time ran out (the work itself may still be going on). */
export class TimedOut extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = 'TimedOut';
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
