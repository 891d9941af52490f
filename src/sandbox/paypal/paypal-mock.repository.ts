import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedAutocommit, preparedInTransaction, returningRows, SqlParams } from '../../common/database/query';

/**
 * The PayPal mock's own bookkeeping: OAuth tokens, PayPal-Request-Id replays and the webhook transmissions sent. The
 * statements every call or delivery makes are named prepared statements: each connection plans them once.
 */
@Injectable()
export class PaypalMockRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insertToken(token: string, clientId: string, expiresInSeconds: number): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO paypal_mock_tokens (token, client_id, expires_at) VALUES ($1, $2, now() + $3 * interval '1 second')`,
      [token, clientId, expiresInSeconds],
    );
  }

  /** How long an unexpired token has left, in milliseconds; undefined when it is unknown or expired. */
  async tokenExpiresInMs(token: string): Promise<number | undefined> {
    const rows: { expires_in_ms: number }[] = await this.dataSource.query(
      `SELECT (extract(epoch FROM expires_at - now()) * 1000)::bigint AS expires_in_ms FROM paypal_mock_tokens WHERE token = $1 AND expires_at > now()`,
      [token],
    );
    return rows[0] ? Number(rows[0].expires_in_ms) : undefined;
  }

  /**
   * Keeps a request id's answer, in the transaction that did its work: false when the id already has one (a call
   * made earlier, or meanwhile: the insert waits for that call's transaction and then finds its row), and the
   * caller's work must then roll back. The row is visible only once it holds the answer.
   */
  async keepReplay(manager: EntityManager, requestId: string, endpoint: string, status: number, body: unknown): Promise<boolean> {
    const kept = await preparedInTransaction(
      manager,
      `INSERT INTO paypal_mock_replays (request_id, endpoint, status, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1`,
      [requestId, endpoint, status, body === undefined ? null : JSON.stringify(body)],
    );
    return kept.length > 0;
  }

  async findReplay(requestId: string, endpoint: string): Promise<{ status: number; body: unknown } | undefined> {
    const rows: { status: number; body: unknown }[] = await this.dataSource.query(
      `SELECT status, body FROM paypal_mock_replays WHERE request_id = $1 AND endpoint = $2`,
      [requestId, endpoint],
    );
    return rows[0];
  }

  /** Drops a request id's stored answers; how many there were. */
  async deleteReplays(requestId: string): Promise<number> {
    const rows = await returningRows<unknown>(
      this.dataSource.manager,
      `DELETE FROM paypal_mock_replays WHERE request_id = $1 RETURNING 1`,
      [requestId],
    );
    return rows.length;
  }

  /** The transmissions of one delivery attempt, in one statement. */
  async insertTransmissions(transmissions: TransmissionRow[]): Promise<void> {
    if (transmissions.length === 0) return;
    await preparedAutocommit(
      this.dataSource,
      `INSERT INTO paypal_mock_transmissions (transmission_id, event_id, raw_body) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
      [
        transmissions.map((transmission) => transmission.transmissionId),
        transmissions.map((transmission) => transmission.eventId),
        transmissions.map((transmission) => transmission.rawBody),
      ],
    );
  }

  /** The bytes a transmission sent. */
  async transmissionBody(transmissionId: string): Promise<string | undefined> {
    const rows: { raw_body: string }[] = await this.dataSource.query(
      `SELECT raw_body FROM paypal_mock_transmissions WHERE transmission_id = $1`,
      [transmissionId],
    );
    return rows[0]?.raw_body;
  }
}

/**
 * The CTE `kept` of a change written in one statement under a PayPal-Request-Id: the id's answer, inserted unless the id
 * has one (waiting for an identical call under way to commit); the change is made only if it was.
 */
export function keptSql(replay: { requestId: string; endpoint: string; status: number; body?: unknown }, params: SqlParams): string {
  return `kept AS (INSERT INTO paypal_mock_replays (request_id, endpoint, status, body)
                   VALUES (${params.add(replay.requestId)}, ${params.add(replay.endpoint)}, ${params.add(replay.status)},
                           ${params.add(replay.body === undefined ? null : JSON.stringify(replay.body))})
                   ON CONFLICT DO NOTHING RETURNING 1)`;
}

/** A transmission as `paypal_mock_transmissions` keeps it: the bytes sent, by the transmission's id. */
export interface TransmissionRow {
  transmissionId: string;
  eventId: string;
  rawBody: string;
}

/** The CTE (to follow a statement's others) storing `transmissions` with the change that made their events; none when empty. */
export function transmissionsCte(transmissions: TransmissionRow[], params: SqlParams): string {
  if (transmissions.length === 0) return '';
  return `, transmissions AS (INSERT INTO paypal_mock_transmissions (transmission_id, event_id, raw_body)
                            SELECT * FROM unnest(${params.add(transmissions.map((t) => t.transmissionId))}::text[],
                                                 ${params.add(transmissions.map((t) => t.eventId))}::text[],
                                                 ${params.add(transmissions.map((t) => t.rawBody))}::text[]))`;
}
