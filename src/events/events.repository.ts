import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedQuery, preparedRead, SqlParams } from '../common/database/query';
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
  stream_seq: string;
  type: EventType;
  trade_id: string | null;
  dispute_id: string | null;
  message_id: string | null;
  data: Record<string, unknown>;
  created_at: Date;
  recipients: { userId: string; role: EventRecipient['role'] }[];
}

/** An event's columns as `toEvent` reads them. */
const EVENT_COLUMNS = `e.id, e.seq::text AS seq, e.stream_seq::text AS stream_seq, e.type, e.trade_id, e.dispute_id, e.message_id, e.data, e.created_at,
  coalesce((SELECT json_agg(json_build_object('userId', r.user_id, 'role', r.role) ORDER BY r.user_id)
              FROM event_recipients r WHERE r.event_id = e.id), '[]'::json) AS recipients`;

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
   * fan-out's first), in one round trip of the caller's transaction. The event is numbered (`stream_seq`) by its
   * commit (the deferred trigger `events_numbered`, last of the commit's locks: docs/ARCHITECTURE.md).
   */
  async insert(manager: EntityManager, event: NewEvent, outboxRows: NewOutboxRow[]): Promise<void> {
    const params = new SqlParams();
    const ctes = eventInsertCtes(event, `${params.add(JSON.stringify(event.data))}::jsonb`, outboxRows, params);
    const rows = await preparedQuery<Record<string, string>>(
      this.dataSource,
      manager,
      `WITH ${ctes}
       SELECT (SELECT id FROM recorded_event) AS id${outboxRows.map((_, i) => `, (SELECT id FROM recorded_job_${i}) AS outbox_${i}`).join('')},
              ${outboxNotifySql(outboxRows, params)}`,
      params.values,
    );
    outboxRows.forEach((row, i) => trackOutboxRow(manager, row, String(rows[0][`outbox_${i}`])));
  }

  /** A committed event, numbered; null when it was purged. */
  async find(id: string): Promise<StoredEvent | null> {
    const rows: EventRow[] = await this.dataSource.query(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = $1`, [id]);
    return rows[0] ? toEvent(rows[0]) : null;
  }

  /**
   * A committed event for its fan-out, with whether any recipient has a client webhook endpoint that takes it (the
   * webhook sink's own first check, `WebhooksRepository.anyEndpointFor`): one read for both, where most events have no
   * endpoint. Null when it was purged.
   */
  async findToFanOut(id: string): Promise<(StoredEvent & { webhookEndpoint: boolean }) | null> {
    const rows = await preparedRead<EventRow & { webhook_endpoint: boolean }>(
      this.dataSource,
      `SELECT ${EVENT_COLUMNS},
              EXISTS (SELECT 1 FROM event_recipients r JOIN webhook_endpoints w ON w.user_id = r.user_id
                       WHERE r.event_id = e.id AND w.enabled AND w.deleted_at IS NULL
                         AND (w.events IS NULL OR e.type = ANY (w.events))) AS webhook_endpoint
         FROM events e WHERE e.id = $1`,
      [id],
    );
    return rows[0] ? { ...toEvent(rows[0]), webhookEndpoint: rows[0].webhook_endpoint } : null;
  }

  /**
   * Every sink took these events (their fan-out jobs said so): the fan-out sweep leaves them alone. One statement for
   * a batch, written by the sweep, not by each job.
   */
  async markFannedOut(ids: string[]): Promise<void> {
    await this.dataSource.query(`UPDATE events SET fanned_out_at = now() WHERE id = ANY($1::uuid[]) AND fanned_out_at IS NULL`, [ids]);
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

  /** Where a replay after this event starts (its `stream_seq`); null when it is unknown or purged. */
  async streamSeqOf(id: string): Promise<string | null> {
    const rows: { stream_seq: string | null }[] = await this.dataSource.query(
      `SELECT stream_seq::text AS stream_seq FROM events WHERE id = $1`,
      [id],
    );
    return rows[0]?.stream_seq ?? null;
  }

  /**
   * The last number visible now (`'0'` before any): every event numbered up to it has committed, since numbers become
   * visible in the order they are taken.
   */
  async latestStreamSeq(): Promise<string> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT coalesce(max(stream_seq), 0)::text AS n FROM events`);
    return rows[0].n;
  }

  /**
   * A page of the replay: up to `limit` events addressed to the user, numbered after `after` (`'0'`: from the start)
   * and up to `through` (null: no bound), recorded within the replay window, in `stream_seq` order.
   */
  async replayForUser(userId: string, after: string, through: string | null, limit: number): Promise<StoredEvent[]> {
    const rows: EventRow[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM event_recipients mine JOIN events e ON e.id = mine.event_id
        WHERE mine.user_id = $1 AND e.stream_seq > $2::bigint AND e.stream_seq <= coalesce($3::bigint, 9223372036854775807)
          AND e.created_at > now() - ${REPLAY_WINDOW}
        ORDER BY e.stream_seq LIMIT $4`,
      [userId, after, through, limit],
    );
    return rows.map(toEvent);
  }

  /** The same for one trade's events. */
  async replayForTrade(tradeId: string, after: string, through: string | null, limit: number): Promise<StoredEvent[]> {
    const rows: EventRow[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM events e
        WHERE e.trade_id = $1 AND e.stream_seq > $2::bigint AND e.stream_seq <= coalesce($3::bigint, 9223372036854775807)
          AND e.created_at > now() - ${REPLAY_WINDOW}
        ORDER BY e.stream_seq LIMIT $4`,
      [tradeId, after, through, limit],
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
