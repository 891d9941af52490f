import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedAutocommit, SqlParams } from '../common/database/query';
import type { JobRetryOptions } from '../queues/retry-policies';
import type { NewOutboxRow, PublishableRow } from './outbox-jobs';
import { trackOutboxRow } from './outbox-tracking';

/** A claimed row: its remaining delay by PostgreSQL's clock at the claim, its due time (its insert, or its `run_at` if later) by PostgreSQL's too. */
export type OutboxRow = PublishableRow;

export const OUTBOX_CHANNEL = 'yb_outbox';

export type { NewOutboxRow };

/**
 * The INSERT of one outbox row, returning its id, to stand as a CTE of a statement that writes a whole change
 * in one round trip. That statement must also select `outboxNotifySql(…)`, which wakes the relays when they have
 * the row to publish, and hand the returned id to `trackOutboxRow` for the publish after commit.
 * `created_at` is the insert itself (`clock_timestamp()`), where the row's hop to its worker starts.
 */
export function outboxInsertSql(row: NewOutboxRow, params: SqlParams): string {
  return outboxInsertFromSql(row, params);
}

/**
 * `outboxInsertSql` for a row written once per row of `from` (a FROM item of the same statement, e.g. a CTE that
 * returns nothing when the change turned out to be nothing): none when it is empty; without `from`, once. With `fill`,
 * every `fill.slot` in the row's job id and payload is replaced by `fill.value` (an expression over `from`, e.g. the id
 * of a trade the statement itself looks up), so the row's id and payload are those of the message built for that
 * value in place of the slot; the writer builds that message again from the value returned, to publish it.
 */
export function outboxInsertFromSql(row: NewOutboxRow, params: SqlParams, from?: string, fill?: { slot: string; value: string }): string {
  const slot = fill && params.add(fill.slot);
  const filled = (param: string): string => (fill ? `replace(${param}::text, ${slot}::text, (${fill.value})::text)` : `${param}::text`);
  return `INSERT INTO outbox (queue, job_name, job_id, payload, run_at, job_options, created_at, next_attempt_at)
          SELECT ${params.add(row.queue)}::text, ${params.add(row.jobName)}::text, ${filled(params.add(row.jobId))},
                 ${filled(params.add(row.payload))}::jsonb, now() + ${params.add(row.delayMs)}::double precision * interval '1 millisecond',
                 ${params.add(row.options)}::jsonb, clock_timestamp(),
                 clock_timestamp() + ${params.add(row.afterCommitLeaseMs)}::double precision * interval '1 millisecond'
          ${from ? `FROM ${from}` : ''}
          RETURNING id`;
}

/**
 * The select-list expression that wakes the relays at commit (a notification is delivered only then), for rows they
 * are to publish; rows their writer publishes after commit need no wake, and an idle wake costs a statement.
 */
export function outboxNotifySql(rows: NewOutboxRow[], params: SqlParams): string {
  return rows.some((row) => !row.afterCommitLeaseMs) ? `pg_notify(${params.add(OUTBOX_CHANNEL)}, '')` : 'NULL';
}

@Injectable()
export class OutboxRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(manager: EntityManager, row: NewOutboxRow): Promise<string> {
    // Inserted and announced in one round trip; the notification is delivered only if the transaction commits.
    const params = new SqlParams();
    const inserted = await manager.query(
      `WITH row AS (${outboxInsertSql(row, params)}) SELECT id, ${outboxNotifySql([row], params)} FROM row`,
      params.values,
    );
    const id = String(inserted[0].id);
    trackOutboxRow(manager, row, id);
    return id;
  }

  /**
   * Claims unpublished rows for `leaseSeconds`, in one statement: SKIP LOCKED lets several relays share the
   * work without waiting on each other, and the lease (next_attempt_at pushed ahead) keeps other relays off
   * the rows while this one publishes them, without a transaction held open across the calls to Redis. A relay
   * that dies holding a lease leaves its rows to be claimed again when it runs out; publishing one twice is
   * harmless, as BullMQ ignores a job id it already has. Each row's delay is what remains until its `run_at` by
   * PostgreSQL's clock at the claim: a duration, so a worker whose clock is set apart from PostgreSQL's still wakes
   * the job at the due time (a deadline job that wakes early anyway puts itself back to sleep).
   */
  async claimBatch(limit: number, leaseSeconds: number): Promise<OutboxRow[]> {
    const rows: {
      id: string;
      queue: string;
      job_name: string;
      job_id: string;
      payload: Record<string, unknown>;
      job_options: JobRetryOptions;
      remaining_ms: string;
      due_at_ms: string;
    }[] = await preparedAutocommit(
      this.dataSource,
      `UPDATE outbox SET next_attempt_at = now() + $2 * interval '1 second'
          WHERE id IN (SELECT id FROM outbox WHERE published_at IS NULL AND next_attempt_at <= now()
                        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING id, queue, job_name, job_id, payload, job_options,
                    greatest(0, ceil(extract(epoch FROM run_at - clock_timestamp()) * 1000))::bigint AS remaining_ms,
                    floor(extract(epoch FROM greatest(created_at, run_at)) * 1000)::bigint AS due_at_ms`,
      [limit, leaseSeconds],
    );
    rows.sort((a, b) => Number(a.id) - Number(b.id));
    return rows.map((r) => ({
      id: String(r.id),
      queue: r.queue,
      jobName: r.job_name,
      jobId: r.job_id,
      payload: r.payload,
      remainingDelayMs: Number(r.remaining_ms),
      options: r.job_options,
      dueAtMs: Number(r.due_at_ms),
    }));
  }

  async markPublished(ids: string[]): Promise<void> {
    if (ids.length > 0)
      await preparedAutocommit(this.dataSource, `UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
  }

  /** Ends the lease on rows this relay claimed but did not try, so the next wake takes them. */
  async release(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.dataSource.query(`UPDATE outbox SET next_attempt_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
  }

  /** Backs the row off exponentially (1 s doubling, at most 5 min), so it cannot hold back the rows behind it. */
  async recordFailure(id: string, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
              next_attempt_at = now() + least(300, power(2, least(attempts, 9))) * interval '1 second'
        WHERE id = $1`,
      [id, error.slice(0, 500)],
    );
  }

  async purgePublished(manager: EntityManager, olderThanHours: number, limit: number): Promise<number> {
    const result = await manager.query(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox WHERE published_at < now() - $1 * interval '1 hour' ORDER BY id LIMIT $2)`,
      [olderThanHours, limit],
    );
    return result[1] ?? 0;
  }

  async countUnpublished(manager: EntityManager): Promise<number> {
    const rows = await manager.query(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
    return rows[0].n;
  }
}
