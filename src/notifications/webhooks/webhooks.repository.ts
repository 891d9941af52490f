import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows, SqlParams } from '../../common/database/query';
import type { EncryptedField } from '../../common/crypto/field-encryption';

export interface EndpointRow {
  id: string;
  userId: string;
  url: string;
  events: string[] | null;
  enabled: boolean;
  consecutiveFailures: number;
  disabledAt: Date | null;
  deletedAt: Date | null;
  createdAt: Date;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRow {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  recipientRole: 'traveler' | 'counterparty' | null;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A delivery with what its next attempt needs of its endpoint. */
export interface DeliveryTarget extends DeliveryRow {
  userId: string;
  url: string;
  secret: EncryptedField | null;
  endpointEnabled: boolean;
  endpointDeleted: boolean;
}

export interface DeliveryFilters {
  endpointId?: string;
  eventType?: string;
  status?: DeliveryStatus;
}

const ENDPOINT = `id, user_id AS "userId", url, events, enabled, consecutive_failures AS "consecutiveFailures",
  disabled_at AS "disabledAt", deleted_at AS "deletedAt", created_at AS "createdAt"`;
const DELIVERY = `d.id, d.endpoint_id AS "endpointId", d.event_id AS "eventId", d.event_type AS "eventType",
  d.recipient_role AS "recipientRole", d.status, d.attempts, d.last_status_code AS "lastStatusCode",
  d.last_error AS "lastError", d.next_attempt_at AS "nextAttemptAt", d.created_at AS "createdAt", d.delivered_at AS "deliveredAt"`;

/** The SQL of client webhooks: endpoints, their delivery log, and the run of failures that disables them. */
@Injectable()
export class WebhooksRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The owner's row, for a change that counts their endpoints (lock order: users' rows); false once deleted. */
  async lockOwner(manager: EntityManager, userId: string): Promise<boolean> {
    const rows = await manager.query(`SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE`, [userId]);
    return rows.length > 0;
  }

  async countLive(manager: EntityManager, userId: string): Promise<number> {
    const rows = await manager.query(`SELECT count(*)::int AS n FROM webhook_endpoints WHERE user_id = $1 AND deleted_at IS NULL`, [
      userId,
    ]);
    return rows[0].n as number;
  }

  async insertEndpoint(
    manager: EntityManager,
    endpoint: { userId: string; url: string; events: string[] | null; secret: EncryptedField },
  ): Promise<EndpointRow> {
    const rows = await manager.query(
      `INSERT INTO webhook_endpoints (user_id, url, events, secret_ciphertext, secret_key_id) VALUES ($1, $2, $3, $4, $5) RETURNING ${ENDPOINT}`,
      [endpoint.userId, endpoint.url, endpoint.events, endpoint.secret.ciphertext, endpoint.secret.keyId],
    );
    return rows[0] as EndpointRow;
  }

  /** The user's endpoints not deleted, oldest first, after a position. */
  listLive(userId: string, limit: number, after?: { createdAt: string; id: string }): Promise<EndpointRow[]> {
    const params = new SqlParams();
    const afterSql = after
      ? `AND (date_trunc('milliseconds', created_at), id) > (${params.add(after.createdAt)}, ${params.add(after.id)})`
      : '';
    return this.dataSource.query(
      `SELECT ${ENDPOINT} FROM webhook_endpoints
        WHERE user_id = ${params.add(userId)} AND deleted_at IS NULL ${afterSql}
        ORDER BY date_trunc('milliseconds', created_at), id LIMIT ${params.add(limit)}`,
      params.values,
    );
  }

  /** Every endpoint the user has or had, deleted ones too (the export). */
  allOf(userId: string): Promise<EndpointRow[]> {
    return this.dataSource.query(`SELECT ${ENDPOINT} FROM webhook_endpoints WHERE user_id = $1 ORDER BY created_at, id`, [userId]);
  }

  /** The user's endpoint, not deleted, held against a deletion or an enabling until the transaction ends. */
  async lockOwned(manager: EntityManager, userId: string, id: string): Promise<EndpointRow | null> {
    const rows = await manager.query(
      `SELECT ${ENDPOINT} FROM webhook_endpoints WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL FOR SHARE`,
      [id, userId],
    );
    return (rows[0] as EndpointRow | undefined) ?? null;
  }

  /** Deletes the user's endpoint: no more deliveries; the row stays for the delivery log, its secret does not. */
  async softDelete(userId: string, id: string): Promise<EndpointRow | null> {
    const rows = await returningRows<EndpointRow>(
      this.dataSource.manager,
      `UPDATE webhook_endpoints
          SET deleted_at = now(), enabled = false, disabled_at = coalesce(disabled_at, now()),
              secret_ciphertext = NULL, secret_key_id = NULL, updated_at = now()
        WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL
        RETURNING ${ENDPOINT}`,
      [id, userId],
    );
    return rows[0] ?? null;
  }

  /** Enables the user's endpoint again, its run of failures forgotten. */
  async enable(userId: string, id: string): Promise<EndpointRow | null> {
    const rows = await returningRows<EndpointRow>(
      this.dataSource.manager,
      `UPDATE webhook_endpoints SET enabled = true, disabled_at = NULL, consecutive_failures = 0, updated_at = now()
        WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL
        RETURNING ${ENDPOINT}`,
      [id, userId],
    );
    return rows[0] ?? null;
  }

  /** A delivery of one event to one endpoint; null when that endpoint has it already. */
  async insertDelivery(
    manager: EntityManager,
    delivery: { endpointId: string; eventId: string; eventType: string; recipientRole: 'traveler' | 'counterparty' | null },
  ): Promise<DeliveryRow | null> {
    const rows = await manager.query(
      `INSERT INTO webhook_deliveries AS d (endpoint_id, event_id, event_type, recipient_role) VALUES ($1, $2, $3, $4)
       ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING ${DELIVERY}`,
      [delivery.endpointId, delivery.eventId, delivery.eventType, delivery.recipientRole],
    );
    return (rows[0] as DeliveryRow | undefined) ?? null;
  }

  /**
   * Whether any recipient of the event has an endpoint that would take it (`fanOut`'s own filter): read first, so an
   * event no endpoint takes costs one read, not a transaction.
   */
  async anyEndpointFor(event: { type: string; recipients: { userId: string }[] }): Promise<boolean> {
    const rows: { any: boolean }[] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM webhook_endpoints e
                       WHERE e.user_id = ANY($1::uuid[]) AND e.enabled AND e.deleted_at IS NULL
                         AND (e.events IS NULL OR $2 = ANY (e.events))) AS any`,
      [event.recipients.map((r) => r.userId), event.type],
    );
    return rows[0].any;
  }

  /**
   * One delivery per enabled endpoint of each recipient whose filter takes the event type, in one statement; an
   * endpoint that has the event already gets nothing (a retried fan-out). Returns the new deliveries' ids.
   */
  async fanOut(
    manager: EntityManager,
    event: { id: string; type: string; recipients: { userId: string; role: 'traveler' | 'counterparty' }[] },
  ): Promise<string[]> {
    const rows: { id: string }[] = await manager.query(
      `INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, recipient_role)
       SELECT e.id, $1, $2, r.role
         FROM unnest($3::uuid[], $4::text[]) AS r (user_id, role)
         JOIN webhook_endpoints e ON e.user_id = r.user_id
        WHERE e.enabled AND e.deleted_at IS NULL AND (e.events IS NULL OR $2 = ANY (e.events))
        ORDER BY e.id
       ON CONFLICT (endpoint_id, event_id) DO NOTHING
       RETURNING id`,
      [event.id, event.type, event.recipients.map((r) => r.userId), event.recipients.map((r) => r.role)],
    );
    return rows.map((row) => row.id);
  }

  async target(deliveryId: string): Promise<DeliveryTarget | null> {
    const rows = await this.dataSource.query(
      `SELECT ${DELIVERY}, e.user_id AS "userId", e.url, e.secret_ciphertext, e.secret_key_id,
              e.enabled AS "endpointEnabled", e.deleted_at IS NOT NULL AS "endpointDeleted"
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.id = $1`,
      [deliveryId],
    );
    const row = rows[0] as (DeliveryTarget & { secret_ciphertext: string | null; secret_key_id: string | null }) | undefined;
    if (!row) return null;
    const { secret_ciphertext: ciphertext, secret_key_id: keyId, ...rest } = row;
    return { ...rest, secret: ciphertext && keyId ? { ciphertext, keyId } : null };
  }

  /** The attempt acknowledged: the delivery is done and the endpoint's run of failures starts over. */
  async markDelivered(deliveryId: string, statusCode: number): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      if (!(await this.lockEndpointOf(manager, deliveryId))) return;
      const rows = await returningRows<{ endpointId: string }>(
        manager,
        `UPDATE webhook_deliveries
            SET status = 'delivered', attempts = attempts + 1, last_status_code = $2, last_error = NULL,
                next_attempt_at = NULL, delivered_at = now()
          WHERE id = $1 AND status = 'pending'
          RETURNING endpoint_id AS "endpointId"`,
        [deliveryId, statusCode],
      );
      if (rows[0]) {
        await manager.query(`UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0`, [
          rows[0].endpointId,
        ]);
      }
    });
  }

  /** The attempt failed and another follows after `retryInMs`. */
  async markRetrying(deliveryId: string, outcome: { statusCode: number | null; error: string }, retryInMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_deliveries
          SET attempts = attempts + 1, last_status_code = $2, last_error = $3,
              next_attempt_at = now() + $4::float8 * interval '1 millisecond'
        WHERE id = $1 AND status = 'pending'`,
      [deliveryId, outcome.statusCode, outcome.error.slice(0, 200), retryInMs],
    );
  }

  /**
   * The last attempt failed: the delivery has failed, and the endpoint's run of failed events grows by one; at
   * `disableAfter` the endpoint is disabled. One statement per row, so racing deliveries count every failure.
   * Returns whether this failure disabled the endpoint.
   */
  async markFailed(deliveryId: string, outcome: { statusCode: number | null; error: string }, disableAfter: number): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      if (!(await this.lockEndpointOf(manager, deliveryId))) return false;
      const rows = await returningRows<{ endpointId: string }>(
        manager,
        `UPDATE webhook_deliveries
            SET status = 'failed', attempts = attempts + 1, last_status_code = $2, last_error = $3, next_attempt_at = NULL
          WHERE id = $1 AND status = 'pending'
          RETURNING endpoint_id AS "endpointId"`,
        [deliveryId, outcome.statusCode, outcome.error.slice(0, 200)],
      );
      if (!rows[0]) return false;
      const disabled = await returningRows<{ id: string }>(
        manager,
        `UPDATE webhook_endpoints
            SET consecutive_failures = consecutive_failures + 1,
                enabled = enabled AND consecutive_failures + 1 < $2,
                disabled_at = CASE WHEN enabled AND consecutive_failures + 1 >= $2 THEN now() ELSE disabled_at END,
                updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL
          RETURNING CASE WHEN NOT enabled AND disabled_at = now() THEN id END AS id`,
        [rows[0].endpointId, disableAfter],
      );
      return Boolean(disabled[0]?.id);
    });
  }

  /**
   * The endpoint's row before its delivery's (the lock order: an account's deletion deletes the endpoint, whose
   * cascade then takes its deliveries). False when the delivery is gone.
   */
  private async lockEndpointOf(manager: EntityManager, deliveryId: string): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `SELECT e.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.id = $1 FOR NO KEY UPDATE OF e`,
      [deliveryId],
    );
    return rows.length > 0;
  }

  /** Nothing more will be tried (the endpoint was deleted or disabled, the event is gone); no attempt was made. */
  async abandon(deliveryId: string, reason: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL WHERE id = $1 AND status = 'pending'`,
      [deliveryId, reason.slice(0, 200)],
    );
  }

  /** Pending deliveries more than `lateMs` past their due time (the next attempt's, or their creation): their job is lost. */
  lost(lateMs: number, limit: number): Promise<{ id: string; attempts: number }[]> {
    return this.dataSource.query(
      `SELECT id, attempts FROM webhook_deliveries
        WHERE status = 'pending' AND coalesce(next_attempt_at, created_at) < now() - $1::float8 * interval '1 millisecond'
        ORDER BY created_at LIMIT $2`,
      [lateMs, limit],
    );
  }

  /**
   * Finished deliveries older than the retention, a batch at a time, then deleted endpoints past it with no log
   * left. Returns how many deliveries went.
   */
  async purge(retentionMs: number, limit: number): Promise<number> {
    const gone = await returningRows<{ id: string }>(
      this.dataSource.manager,
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries
          WHERE status <> 'pending' AND created_at < now() - $1::float8 * interval '1 millisecond' LIMIT $2)
       RETURNING id`,
      [retentionMs, limit],
    );
    await this.dataSource.query(
      `DELETE FROM webhook_endpoints e
        WHERE e.deleted_at < now() - $1::float8 * interval '1 millisecond'
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id)`,
      [retentionMs],
    );
    return gone.length;
  }

  /** The deliveries to the user's endpoints (deleted ones included), newest first, before a position. */
  listDeliveries(
    userId: string,
    filters: DeliveryFilters,
    limit: number,
    before?: { createdAt: string; id: string },
  ): Promise<DeliveryRow[]> {
    const params = new SqlParams();
    const where = [`e.user_id = ${params.add(userId)}`];
    if (filters.endpointId) where.push(`d.endpoint_id = ${params.add(filters.endpointId)}`);
    if (filters.eventType) where.push(`d.event_type = ${params.add(filters.eventType)}`);
    if (filters.status) where.push(`d.status = ${params.add(filters.status)}`);
    if (before)
      where.push(`(date_trunc('milliseconds', d.created_at), d.id) < (${params.add(before.createdAt)}, ${params.add(before.id)})`);
    return this.dataSource.query(
      `SELECT ${DELIVERY} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE ${where.join(' AND ')}
        ORDER BY date_trunc('milliseconds', d.created_at) DESC, d.id DESC LIMIT ${params.add(limit)}`,
      params.values,
    );
  }

  /** An account's deletion: its endpoints and their delivery log go (in the deletion's transaction, after the user's row lock). */
  async deleteAllOf(manager: EntityManager, userId: string): Promise<void> {
    await manager.query(`DELETE FROM webhook_endpoints WHERE user_id = $1`, [userId]);
  }
}
