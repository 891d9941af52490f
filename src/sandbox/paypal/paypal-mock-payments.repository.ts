import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRow } from '../../common/database/query';
import { AuthorizationRow, CaptureRow, OrderRow, paypalId, RefundRow } from './paypal-mock.rows';

/** The PayPal mock's Orders v2 and Payments v2 tables: orders, authorizations, captures and refunds. */
@Injectable()
export class PaypalMockPaymentsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  // ---- Orders ----

  async insertOrder(
    manager: EntityManager,
    order: { cents: bigint; purchaseUnits: unknown[]; returnUrl: string | null; cancelUrl: string | null },
  ): Promise<OrderRow> {
    const rows: OrderRow[] = await manager.query(
      `INSERT INTO paypal_mock_orders (id, intent, status, amount_cents, currency, purchase_units, return_url, cancel_url)
       VALUES ($1, 'AUTHORIZE', 'CREATED', $2, 'USD', $3, $4, $5) RETURNING *`,
      [paypalId(), order.cents.toString(), JSON.stringify(order.purchaseUnits), order.returnUrl, order.cancelUrl],
    );
    return rows[0];
  }

  async findOrder(id: string, manager: EntityManager = this.dataSource.manager, lock = false): Promise<OrderRow | undefined> {
    const rows: OrderRow[] = await manager.query(`SELECT * FROM paypal_mock_orders WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0];
  }

  /** CREATED → APPROVED with the payer; undefined when the order was not CREATED. */
  async approveOrder(manager: EntityManager, id: string, payer: Record<string, unknown>): Promise<OrderRow | undefined> {
    return returningRow<OrderRow>(
      manager,
      `UPDATE paypal_mock_orders SET status = 'APPROVED', payer = $2, update_time = now() WHERE id = $1 AND status = 'CREATED' RETURNING *`,
      [id, JSON.stringify(payer)],
    );
  }

  async completeOrder(manager: EntityManager, id: string): Promise<OrderRow> {
    return returningRow<OrderRow>(
      manager,
      `UPDATE paypal_mock_orders SET status = 'COMPLETED', update_time = now() WHERE id = $1 RETURNING *`,
      [id],
    );
  }

  // ---- Authorizations ----

  async insertAuthorization(manager: EntityManager, order: OrderRow, honorPeriodMs: number, validityMs: number): Promise<AuthorizationRow> {
    const rows: AuthorizationRow[] = await manager.query(
      `INSERT INTO paypal_mock_authorizations (id, order_id, status, amount_cents, currency, honor_expires_at, expiration_time)
       VALUES ($1, $2, 'CREATED', $3, $4, now() + $5 * interval '1 millisecond', now() + $6 * interval '1 millisecond') RETURNING *`,
      [paypalId(), order.id, order.amount_cents, order.currency, honorPeriodMs, validityMs],
    );
    return rows[0];
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

  async authorizationOfOrder(orderId: string): Promise<AuthorizationRow | undefined> {
    const rows: AuthorizationRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_authorizations WHERE order_id = $1`, [orderId]);
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

  /** Books a capture against its authorization and inserts it. */
  async insertCapture(
    manager: EntityManager,
    authorization: AuthorizationRow,
    capture: { status: string; cents: bigint; finalCapture: boolean },
  ): Promise<CaptureRow> {
    await manager.query(
      `UPDATE paypal_mock_authorizations SET status = $2, captured_cents = captured_cents + $3, update_time = now() WHERE id = $1`,
      [authorization.id, capture.status, capture.cents.toString()],
    );
    const rows: CaptureRow[] = await manager.query(
      `INSERT INTO paypal_mock_captures (id, authorization_id, status, amount_cents, currency, final_capture) VALUES ($1, $2, 'COMPLETED', $3, $4, $5) RETURNING *`,
      [paypalId(), authorization.id, capture.cents.toString(), authorization.currency, capture.finalCapture],
    );
    return rows[0];
  }

  async findCapture(id: string, manager: EntityManager = this.dataSource.manager, lock = false): Promise<CaptureRow | undefined> {
    const rows: CaptureRow[] = await manager.query(`SELECT * FROM paypal_mock_captures WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0];
  }

  /** Books a refund against its capture and inserts it; answers the refund's id. */
  async insertRefund(manager: EntityManager, capture: CaptureRow, refund: { status: string; cents: bigint }): Promise<string> {
    await manager.query(
      `UPDATE paypal_mock_captures SET status = $2, refunded_cents = refunded_cents + $3, update_time = now() WHERE id = $1`,
      [capture.id, refund.status, refund.cents.toString()],
    );
    const id = paypalId();
    await manager.query(
      `INSERT INTO paypal_mock_refunds (id, capture_id, status, amount_cents, currency) VALUES ($1, $2, 'COMPLETED', $3, $4)`,
      [id, capture.id, refund.cents.toString(), capture.currency],
    );
    return id;
  }

  async findRefund(id: string): Promise<RefundRow | undefined> {
    const rows: RefundRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_refunds WHERE id = $1`, [id]);
    return rows[0];
  }

  /** The captures of an order's authorization and their refunds, oldest first. */
  async settledOfOrder(orderId: string): Promise<{ captures: CaptureRow[]; refunds: RefundRow[] }> {
    const captures: CaptureRow[] = await this.dataSource.query(
      `SELECT c.* FROM paypal_mock_captures c JOIN paypal_mock_authorizations a ON a.id = c.authorization_id
        WHERE a.order_id = $1 ORDER BY c.create_time, c.id`,
      [orderId],
    );
    const refunds: RefundRow[] = captures.length
      ? await this.dataSource.query(`SELECT * FROM paypal_mock_refunds WHERE capture_id = ANY($1) ORDER BY create_time, id`, [
          captures.map((capture) => capture.id),
        ])
      : [];
    return { captures, refunds };
  }
}
