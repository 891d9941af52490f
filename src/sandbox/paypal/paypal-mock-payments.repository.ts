import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedAutocommit, preparedRead, returningRow, SqlParams } from '../../common/database/query';
import { changeMadeSql, outboxCtes, runChange } from '../sandbox-statement';
import { keptSql, transmissionsCte } from './paypal-mock.repository';
import type { PaypalWebhookWrites } from './paypal-mock.webhooks';
import { AuthorizationRow, CaptureRow, OrderRow, paypalId, RefundRow } from './paypal-mock.rows';

const INSERT_ORDER = `INSERT INTO paypal_mock_orders (id, intent, status, amount_cents, currency, purchase_units, return_url, cancel_url,
                                 create_time, update_time)`;

/** The PayPal mock's Orders v2 and Payments v2 tables: orders, authorizations, captures and refunds. */
@Injectable()
export class PaypalMockPaymentsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  // ---- Orders ----

  /**
   * Stores a new order, made whole by the caller (id and times too), in one statement sent in autocommit. With
   * `replay`, the PayPal-Request-Id's answer is kept by the same statement and the order made only if the id had no
   * answer yet (an identical call under way: the insert waits for its commit); false when it had one.
   */
  async insertOrder(order: OrderRow, replay?: { requestId: string; endpoint: string; status: number; body?: unknown }): Promise<boolean> {
    const values = [
      order.id,
      order.amount_cents,
      JSON.stringify(order.purchase_units),
      order.return_url,
      order.cancel_url,
      order.create_time,
    ];
    if (!replay) {
      await this.dataSource.query(`${INSERT_ORDER} VALUES ($1, 'AUTHORIZE', 'CREATED', $2, 'USD', $3, $4, $5, $6, $6)`, values);
      return true;
    }
    const rows = await preparedAutocommit(
      this.dataSource,
      `WITH kept AS (INSERT INTO paypal_mock_replays (request_id, endpoint, status, body) VALUES ($7, $8, $9, $10)
                     ON CONFLICT DO NOTHING RETURNING 1)
       ${INSERT_ORDER} SELECT $1, 'AUTHORIZE', 'CREATED', $2, 'USD', $3, $4, $5, $6, $6 FROM kept RETURNING 1`,
      [...values, replay.requestId, replay.endpoint, replay.status, replay.body === undefined ? null : JSON.stringify(replay.body)],
    );
    return rows.length > 0;
  }

  async findOrder(id: string, manager: EntityManager = this.dataSource.manager): Promise<OrderRow | undefined> {
    const rows: OrderRow[] = await manager.query(`SELECT * FROM paypal_mock_orders WHERE id = $1`, [id]);
    return rows[0];
  }

  /**
   * An order with its authorization (an order has at most one), in one round trip: what showing an order reads.
   * The authorization's columns come prefixed `a_`, null when there is none.
   */
  async findOrderWithAuthorization(id: string): Promise<{ order: OrderRow; authorization: AuthorizationRow | null } | undefined> {
    // A named prepared statement: the service reads an order at every step of its funding.
    const rows = await preparedRead<OrderRow & Prefixed<AuthorizationRow>>(this.dataSource, ORDER_WITH_AUTHORIZATION, [id]);
    const row = rows[0];
    if (!row) return undefined;
    const { order, authorization } = splitAuthorization(row);
    return { order, authorization: authorization.id === null ? null : authorization };
  }

  /**
   * CREATED → APPROVED with the payer and time of `approved`, and the outbox rows of its webhooks, in one statement
   * sent in autocommit; answers the rows' ids, or undefined (nothing written) when the order was not CREATED.
   */
  async approveOrder(approved: OrderRow, webhooks: PaypalWebhookWrites): Promise<string[] | undefined> {
    const params = new SqlParams();
    const outbox = outboxCtes(webhooks.rows, params);
    const transmissions = transmissionsCte(webhooks.transmissions, params);
    return runChange(
      this.dataSource,
      `WITH approved AS (
         UPDATE paypal_mock_orders SET status = 'APPROVED', payer = ${params.add(JSON.stringify(approved.payer))},
                update_time = ${params.add(approved.update_time)}
          WHERE id = ${params.add(approved.id)} AND status = 'CREATED' RETURNING 1
       )${outbox.ctes}${transmissions}
       SELECT ${changeMadeSql('SELECT count(*) FROM approved')} AS made, ${outbox.columns}`,
      params,
    );
  }

  // ---- Authorizations ----

  /**
   * APPROVED → COMPLETED with `authorization` made, and the outbox rows of its webhooks, in one statement sent in
   * autocommit. With `replay`, the PayPal-Request-Id's answer is kept by the same statement, and the order authorized
   * only if the id had no answer yet (an identical call under way: the insert waits for its commit). Answers the
   * outbox rows' ids, or undefined (nothing written) when the order was not APPROVED or the id had its answer.
   */
  async authorize(
    completed: OrderRow,
    authorization: AuthorizationRow,
    webhooks: PaypalWebhookWrites,
    replay?: { requestId: string; endpoint: string; status: number; body?: unknown },
  ): Promise<string[] | undefined> {
    const params = new SqlParams();
    const kept = replay ? `${keptSql(replay, params)},` : '';
    const at = params.add(completed.update_time);
    const outbox = outboxCtes(webhooks.rows, params);
    const transmissions = transmissionsCte(webhooks.transmissions, params);
    return runChange(
      this.dataSource,
      `WITH ${kept}
       o AS (UPDATE paypal_mock_orders SET status = 'COMPLETED', update_time = ${at}
              WHERE id = ${params.add(completed.id)} AND status = 'APPROVED'${replay ? ' AND EXISTS (SELECT 1 FROM kept)' : ''}
              RETURNING id, amount_cents, currency),
       a AS (INSERT INTO paypal_mock_authorizations (id, order_id, status, amount_cents, currency, honor_expires_at, expiration_time,
                                                     create_time, update_time)
             SELECT ${params.add(authorization.id)}, o.id, 'CREATED', o.amount_cents, o.currency, ${params.add(authorization.honor_expires_at)},
                    ${params.add(authorization.expiration_time)}, ${at}, ${at} FROM o RETURNING 1)${outbox.ctes}${transmissions}
       SELECT ${changeMadeSql('SELECT count(*) FROM a')} AS made, ${outbox.columns}`,
      params,
    );
  }

  async findAuthorization(
    id: string,
    manager: EntityManager = this.dataSource.manager,
    lock = false,
  ): Promise<AuthorizationRow | undefined> {
    const rows: AuthorizationRow[] = await manager.query(
      `SELECT * FROM paypal_mock_authorizations WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0];
  }

  /** CREATED → EXPIRED; undefined when it was no longer CREATED. */
  async expireAuthorization(id: string, manager: EntityManager = this.dataSource.manager): Promise<AuthorizationRow | undefined> {
    return returningRow<AuthorizationRow>(
      manager,
      `UPDATE paypal_mock_authorizations SET status = 'EXPIRED', update_time = now() WHERE id = $1 AND status = 'CREATED' RETURNING *`,
      [id],
    );
  }

  async voidAuthorization(manager: EntityManager, id: string): Promise<AuthorizationRow> {
    return returningRow<AuthorizationRow>(
      manager,
      `UPDATE paypal_mock_authorizations SET status = 'VOIDED', update_time = now() WHERE id = $1 RETURNING *`,
      [id],
    );
  }

  // ---- Captures and refunds ----

  /**
   * Books `capture` against its authorization, as it was read (`read`: its status and captured amount unchanged, and
   * not expired), inserts it, and writes the outbox rows of its webhooks, in one statement sent in autocommit. With
   * `replay`, the PayPal-Request-Id's answer is kept by the same statement, and the capture made only if the id had no
   * answer yet. Answers the outbox rows' ids; undefined, and nothing written, when the authorization changed since it
   * was read or the id had its answer.
   */
  async capture(
    read: AuthorizationRow,
    authorizationStatus: string,
    capture: CaptureRow,
    webhooks: PaypalWebhookWrites,
    replay?: { requestId: string; endpoint: string; status: number; body?: unknown },
  ): Promise<string[] | undefined> {
    const params = new SqlParams();
    const kept = replay ? `${keptSql(replay, params)},` : '';
    const at = params.add(capture.create_time);
    const cents = params.add(capture.amount_cents);
    const outbox = outboxCtes(webhooks.rows, params);
    const transmissions = transmissionsCte(webhooks.transmissions, params);
    return runChange(
      this.dataSource,
      `WITH ${kept}
       booked AS (
         UPDATE paypal_mock_authorizations
            SET status = ${params.add(authorizationStatus)}, captured_cents = captured_cents + ${cents}::bigint, update_time = ${at}
          WHERE id = ${params.add(read.id)} AND status = ${params.add(read.status)} AND captured_cents = ${params.add(read.captured_cents)}::bigint
            AND (status <> 'CREATED' OR expiration_time > now())${replay ? ' AND EXISTS (SELECT 1 FROM kept)' : ''}
          RETURNING id),
       made AS (
         INSERT INTO paypal_mock_captures (id, authorization_id, status, amount_cents, currency, final_capture, create_time, update_time)
         SELECT ${params.add(capture.id)}, booked.id, 'COMPLETED', ${cents}::bigint, ${params.add(capture.currency)},
                ${params.add(capture.final_capture)}, ${at}, ${at} FROM booked RETURNING 1)${outbox.ctes}${transmissions}
       SELECT ${changeMadeSql('SELECT count(*) FROM made')} AS made, ${outbox.columns}`,
      params,
    );
  }

  async findCapture(id: string, manager: EntityManager = this.dataSource.manager, lock = false): Promise<CaptureRow | undefined> {
    const rows: CaptureRow[] = await manager.query(`SELECT * FROM paypal_mock_captures WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0];
  }

  /** Books a refund against its capture and inserts it, in one statement; answers the refund's id. */
  async insertRefund(manager: EntityManager, capture: CaptureRow, refund: { status: string; cents: bigint }): Promise<string> {
    const id = paypalId();
    await manager.query(
      `WITH booked AS (UPDATE paypal_mock_captures SET status = $2, refunded_cents = refunded_cents + $3::bigint, update_time = now()
                        WHERE id = $1 RETURNING id, currency)
       INSERT INTO paypal_mock_refunds (id, capture_id, status, amount_cents, currency)
       SELECT $4, booked.id, 'COMPLETED', $3::bigint, booked.currency FROM booked`,
      [capture.id, refund.status, refund.cents.toString(), id],
    );
    return id;
  }

  async findRefund(id: string): Promise<RefundRow | undefined> {
    const rows: RefundRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_refunds WHERE id = $1`, [id]);
    return rows[0];
  }

  /**
   * The captures of an authorization and their refunds, oldest first. Asked only of an authorization that has
   * captured something; the refunds are read only when a capture was refunded.
   */
  async settledOfAuthorization(authorizationId: string): Promise<{ captures: CaptureRow[]; refunds: RefundRow[] }> {
    const captures: CaptureRow[] = await this.dataSource.query(
      `SELECT * FROM paypal_mock_captures WHERE authorization_id = $1 ORDER BY create_time, id`,
      [authorizationId],
    );
    const refunded = captures.filter((capture) => BigInt(capture.refunded_cents) > 0n);
    const refunds: RefundRow[] = refunded.length
      ? await this.dataSource.query(`SELECT * FROM paypal_mock_refunds WHERE capture_id = ANY($1) ORDER BY create_time, id`, [
          refunded.map((capture) => capture.id),
        ])
      : [];
    return { captures, refunds };
  }
}

const ORDER_COLUMNS = [
  'id',
  'intent',
  'status',
  'amount_cents',
  'currency',
  'purchase_units',
  'return_url',
  'cancel_url',
  'payer',
  'create_time',
  'update_time',
] as const satisfies readonly (keyof OrderRow)[];

const AUTHORIZATION_COLUMNS = [
  'id',
  'order_id',
  'status',
  'amount_cents',
  'captured_cents',
  'currency',
  'honor_expires_at',
  'expiration_time',
  'create_time',
  'update_time',
] as const satisfies readonly (keyof AuthorizationRow)[];

const ORDER_WITH_AUTHORIZATION = `SELECT ${ORDER_COLUMNS.map((column) => `o.${column}`).join(', ')},
         ${AUTHORIZATION_COLUMNS.map((column) => `a.${column} AS a_${column}`).join(', ')}
    FROM paypal_mock_orders o LEFT JOIN paypal_mock_authorizations a ON a.order_id = o.id WHERE o.id = $1`;

type Prefixed<T> = { [K in keyof T & string as `a_${K}`]: T[K] };

/** An order row joined to its authorization's `a_` columns, taken apart. */
function splitAuthorization(row: OrderRow & Prefixed<AuthorizationRow>): { order: OrderRow; authorization: AuthorizationRow } {
  const order: Record<string, unknown> = {};
  const authorization: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith('a_')) authorization[key.slice(2)] = value;
    else order[key] = value;
  }
  return { order: order as unknown as OrderRow, authorization: authorization as unknown as AuthorizationRow };
}
