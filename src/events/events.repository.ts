import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { SqlParams } from '../common/database/query';
import { NewOutboxRow, OUTBOX_CHANNEL, outboxInsertSql } from '../outbox/outbox.repository';
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

/** An event's columns, named as StoredEvent names its fields. */
const EVENT_COLUMNS = `e.id, e.seq::text AS seq, e.type, e.trade_id AS "tradeId", e.dispute_id AS "disputeId",
  e.message_id AS "messageId", e.data, e.created_at AS "createdAt",
  coalesce((SELECT json_agg(json_build_object('userId', r.user_id, 'role', r.role) ORDER BY r.user_id)
              FROM event_recipients r WHERE r.event_id = e.id), '[]'::json) AS recipients`;

/** How far back a stream replays, at most (API.md); events are kept a little longer (EVENT_RETENTION_MS). */
const REPLAY_WINDOW = `interval '24 hours'`;

/** The event log's queries: an event, its recipients and its fan-out job written in one statement; replays; the purge. */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The event, its recipients and the outbox row of its fan-out, in one round trip of the caller's transaction. */
  async insert(manager: EntityManager, event: NewEvent, fanOut: NewOutboxRow): Promise<void> {
    const params = new SqlParams();
    const id = params.add(event.id);
    await manager.query(
      `WITH event AS (
         INSERT INTO events (id, type, trade_id, dispute_id, message_id, data)
         VALUES (${id}, ${params.add(event.type)}, ${params.add(event.tradeId)}, ${params.add(event.disputeId)},
                 ${params.add(event.messageId)}, ${params.add(JSON.stringify(event.data))}::jsonb)
         RETURNING id
       ), recipients AS (
         INSERT INTO event_recipients (event_id, user_id, role)
         SELECT ${id}, r."userId", r.role FROM jsonb_to_recordset(${params.add(JSON.stringify(event.recipients))}::jsonb) AS r ("userId" uuid, role text)
       ), fan_out AS (${outboxInsertSql(fanOut, params)})
       SELECT (SELECT id FROM event) AS id, pg_notify(${params.add(OUTBOX_CHANNEL)}, '')`,
      params.values,
    );
  }

  async find(id: string): Promise<StoredEvent | null> {
    const rows: StoredEvent[] = await this.dataSource.query(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = $1`, [id]);
    return rows[0] ?? null;
  }

  /** When an event was recorded (for a replay from it); null when it is unknown or already purged. */
  async createdAtOf(id: string): Promise<Date | null> {
    const rows: { created_at: Date }[] = await this.dataSource.query(`SELECT created_at FROM events WHERE id = $1`, [id]);
    return rows[0]?.created_at ?? null;
  }

  /**
   * The newest `limit` events addressed to the user, recorded since `since` (all of the replay window when null),
   * oldest first.
   */
  async replayForUser(userId: string, since: Date | null, limit: number): Promise<StoredEvent[]> {
    const rows: StoredEvent[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM event_recipients mine JOIN events e ON e.id = mine.event_id
        WHERE mine.user_id = $1 AND e.created_at > now() - ${REPLAY_WINDOW} AND ($2::timestamptz IS NULL OR e.created_at >= $2)
        ORDER BY e.seq DESC LIMIT $3`,
      [userId, since, limit],
    );
    return rows.reverse();
  }

  /** The same for one trade's events. */
  async replayForTrade(tradeId: string, since: Date | null, limit: number): Promise<StoredEvent[]> {
    const rows: StoredEvent[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM events e
        WHERE e.trade_id = $1 AND e.created_at > now() - ${REPLAY_WINDOW} AND ($2::timestamptz IS NULL OR e.created_at >= $2)
        ORDER BY e.seq DESC LIMIT $3`,
      [tradeId, since, limit],
    );
    return rows.reverse();
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
