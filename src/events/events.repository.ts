import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { SqlParams } from '../common/database/query';
import { trackOutboxRow } from '../outbox/outbox-tracking';
import { NewOutboxRow, outboxInsertSql, outboxNotifySql } from '../outbox/outbox.repository';
import type { EventRecipient, EventType, StoredEvent } from './event-types';

export interface NewEvent {
  id: string;
  type: EventType;
  tradeId: string | null;
  disputeId: string | null;
  messageId: string | null;
  data: Record<string, unknown>;
  recipients: EventRecipient[];
}

interface EventRow {
  id: string;
  seq: string;
  stream_seq: string | null;
  type: EventType;
  trade_id: string | null;
  dispute_id: string | null;
  message_id: string | null;
  data: Record<string, unknown>;
  created_at: Date;
  recipients: { userId: string; role: EventRecipient['role'] }[];
}

/** An event's columns as `toEvent` reads them; `streamSeq` is the expression of its number. */
const eventColumns = (
  streamSeq: string,
) => `e.id, e.seq::text AS seq, ${streamSeq}::text AS stream_seq, e.type, e.trade_id, e.dispute_id, e.message_id, e.data, e.created_at,
  coalesce((SELECT json_agg(json_build_object('userId', r.user_id, 'role', r.role) ORDER BY r.user_id)
              FROM event_recipients r WHERE r.event_id = e.id), '[]'::json) AS recipients`;
const EVENT_COLUMNS = eventColumns('e.stream_seq');

/** How far back a stream replays, at most (API.md); events are kept a little longer (EVENT_RETENTION_MS). */
const REPLAY_WINDOW = `interval '24 hours'`;

function toEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    seq: row.seq,
    streamSeq: row.stream_seq,
    type: row.type,
    tradeId: row.trade_id,
    disputeId: row.dispute_id,
    messageId: row.message_id,
    data: row.data,
    createdAt: row.created_at,
    recipients: row.recipients,
  };
}

/**
 * The CTEs that write one event, its recipients and its outbox rows (`recorded_event`, `recorded_recipients`, and
 * `recorded_job_<i>` for `outboxRows[i]`, the fan-out's first, each returning the row's id), for a statement that
 * writes the change the event tells of. `data` is the SQL of its jsonb data: a parameter, or built from the
 * statement's own rows. The statement must also select `outboxNotifySql(…)`, as `outboxInsertSql` asks.
 */
export function eventInsertCtes(event: Omit<NewEvent, 'data'>, data: string, outboxRows: NewOutboxRow[], params: SqlParams): string {
  const id = params.add(event.id);
  return `recorded_event AS (
         INSERT INTO events (id, type, trade_id, dispute_id, message_id, data)
         VALUES (${id}, ${params.add(event.type)}, ${params.add(event.tradeId)}, ${params.add(event.disputeId)},
                 ${params.add(event.messageId)}, ${data})
         RETURNING id
       ), recorded_recipients AS (
         INSERT INTO event_recipients (event_id, user_id, role)
         SELECT ${id}, r."userId", r.role FROM jsonb_to_recordset(${params.add(JSON.stringify(event.recipients))}::jsonb) AS r ("userId" uuid, role text)
       )${outboxRows.map((row, i) => `, recorded_job_${i} AS (${outboxInsertSql(row, params)})`).join('')}`;
}

/** The event log's queries: an event, its recipients and its fan-out job written in one statement; replays; the purge. */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The event, its recipients, the outbox row of its fan-out and those of the change it tells of (`outboxRows`, the
   * fan-out's first), in one round trip of the caller's transaction.
   */
  async insert(manager: EntityManager, event: NewEvent, outboxRows: NewOutboxRow[]): Promise<void> {
    const params = new SqlParams();
    const ctes = eventInsertCtes(event, `${params.add(JSON.stringify(event.data))}::jsonb`, outboxRows, params);
    const rows: Record<string, string>[] = await manager.query(
      `WITH ${ctes}
       SELECT (SELECT id FROM recorded_event) AS id${outboxRows.map((_, i) => `, (SELECT id FROM recorded_job_${i}) AS outbox_${i}`).join('')},
              ${outboxNotifySql(outboxRows, params)}`,
      params.values,
    );
    outboxRows.forEach((row, i) => trackOutboxRow(manager, row, String(rows[0][`outbox_${i}`])));
  }

  async find(id: string): Promise<StoredEvent | null> {
    const rows: EventRow[] = await this.dataSource.query(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = $1`, [id]);
    return rows[0] ? toEvent(rows[0]) : null;
  }

  /**
   * The event for its fan-out, numbered first if it was not: its place in commit order, taken once (the fan-out
   * job, after the event's commit) and kept. One at a time (a transaction-scoped advisory lock, released after the
   * commit is visible): numbers become visible in the order they are taken, so a replay after number N never misses
   * an event numbered below N once N was seen. One autocommit statement: the lock is taken before the number is
   * drawn (it is computed for the row the join with the lock produced) and held until the statement's own commit.
   * Null when the event was purged.
   */
  async numberAndFind(id: string): Promise<StoredEvent | null> {
    const rows: EventRow[] = await this.dataSource.query(
      `WITH numbered AS (
         UPDATE events SET stream_seq = nextval('events_stream_seq')
           FROM (SELECT pg_advisory_xact_lock(hashtext('events_stream_seq')) OFFSET 0) AS one_at_a_time
          WHERE id = $1 AND stream_seq IS NULL
          RETURNING id, stream_seq
       )
       SELECT ${eventColumns('coalesce(n.stream_seq, e.stream_seq)')}
         FROM events e LEFT JOIN numbered n ON n.id = e.id
        WHERE e.id = $1`,
      [id],
    );
    return rows[0] ? toEvent(rows[0]) : null;
  }

  /** Every sink took the event: the fan-out sweep leaves it alone. */
  async markFannedOut(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE events SET fanned_out_at = now() WHERE id = $1 AND fanned_out_at IS NULL`, [id]);
  }

  /** Events recorded more than `graceMs` ago whose fan-out has not finished (its job lost, or still retrying). */
  async notFannedOut(graceMs: number, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM events WHERE fanned_out_at IS NULL AND created_at < now() - $1::double precision * interval '1 millisecond'
        ORDER BY created_at LIMIT $2`,
      [graceMs, limit],
    );
    return rows.map((row) => row.id);
  }

  /** Where a replay after this event starts (its `stream_seq`); null when it is unknown, purged or not numbered yet. */
  async streamSeqOf(id: string): Promise<string | null> {
    const rows: { stream_seq: string | null }[] = await this.dataSource.query(
      `SELECT stream_seq::text AS stream_seq FROM events WHERE id = $1`,
      [id],
    );
    return rows[0]?.stream_seq ?? null;
  }

  /**
   * A page of the replay: up to `limit` events addressed to the user, numbered after `after` (`'0'`: from the start)
   * and recorded within the replay window, in `stream_seq` order. Events not numbered yet are not in it: they are
   * published when they are.
   */
  async replayForUser(userId: string, after: string, limit: number): Promise<StoredEvent[]> {
    const rows: EventRow[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM event_recipients mine JOIN events e ON e.id = mine.event_id
        WHERE mine.user_id = $1 AND e.stream_seq > $2::bigint AND e.created_at > now() - ${REPLAY_WINDOW}
        ORDER BY e.stream_seq LIMIT $3`,
      [userId, after, limit],
    );
    return rows.map(toEvent);
  }

  /** The same for one trade's events. */
  async replayForTrade(tradeId: string, after: string, limit: number): Promise<StoredEvent[]> {
    const rows: EventRow[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM events e
        WHERE e.trade_id = $1 AND e.stream_seq > $2::bigint AND e.created_at > now() - ${REPLAY_WINDOW}
        ORDER BY e.stream_seq LIMIT $3`,
      [tradeId, after, limit],
    );
    return rows.map(toEvent);
  }

  /** Deletes up to `limit` events older than `olderThanMs` (their recipients go with them); answers how many. */
  async purgeOlderThan(olderThanMs: number, limit: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH doomed AS (SELECT id FROM events WHERE created_at < now() - $1::double precision * interval '1 millisecond' ORDER BY created_at LIMIT $2),
            deleted AS (DELETE FROM events e USING doomed WHERE e.id = doomed.id RETURNING 1)
       SELECT count(*)::int AS n FROM deleted`,
      [olderThanMs, limit],
    );
    return rows[0].n;
  }
}
