import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { applyBps } from '../../common/money';
import { paypalConfig } from '../../config';
import { PaypalMockError } from './paypal-mock.errors';
import { PaypalMockPaymentsRepository } from './paypal-mock-payments.repository';
import { AuthorizationRow, capturable, CaptureRow, iso, money, OrderRow, paypalId, positiveUsd, RefundRow } from './paypal-mock.rows';
import type { MockResponse, ReplayKey } from './paypal-mock.replays';
import { PaypalMockWebhooks } from './paypal-mock.webhooks';
import { Transactions } from '../../database/transactions';
import { inTransaction } from './paypal-mock.transaction';

/**
 * The PayPal mock's behaviour: PayPal's resources, states and errors over its own tables. Every change
 * is a conditional update in a transaction, so concurrent calls behave as one provider would. A change made
 * under a PayPal-Request-Id runs inside the transaction that keeps the id's answer (`outer`), so both commit together.
 */
@Injectable()
export class PaypalMockService {
  constructor(
    private readonly transactions: Transactions,
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
    private readonly webhooks: PaypalMockWebhooks,
    private readonly payments: PaypalMockPaymentsRepository,
  ) {}

  // ---- Orders v2 ----

  /**
   * Creates an order in one statement sent in autocommit. `answer` makes the call's answer from the order before it
   * is stored (the row's id and times are made here), so that under a PayPal-Request-Id (`replay`) the statement keeps
   * that answer with the order, and makes the order only if the id had no answer yet; undefined then.
   */
  async createOrder(body: unknown, answer: (order: OrderRow) => MockResponse, replay?: ReplayKey): Promise<MockResponse | undefined> {
    const order = body as {
      intent?: unknown;
      purchase_units?: unknown;
      application_context?: { return_url?: unknown; cancel_url?: unknown };
      payment_source?: { paypal?: { experience_context?: { return_url?: unknown; cancel_url?: unknown } } };
    };
    if (order?.intent !== 'AUTHORIZE' && order?.intent !== 'CAPTURE') {
      throw PaypalMockError.invalid(
        order?.intent === undefined ? 'MISSING_REQUIRED_PARAMETER' : 'INVALID_PARAMETER_VALUE',
        'intent must be AUTHORIZE or CAPTURE.',
      );
    }
    if (order.intent !== 'AUTHORIZE')
      throw PaypalMockError.unprocessable('INTENT_NOT_SUPPORTED', 'This sandbox takes AUTHORIZE orders only.');
    const units = Array.isArray(order.purchase_units)
      ? (order.purchase_units as ({ amount?: { currency_code?: unknown; value?: unknown } } | null)[])
      : [];
    if (units.length !== 1) throw PaypalMockError.invalid('MISSING_REQUIRED_PARAMETER', 'purchase_units must have exactly one unit here.');
    const amount = units[0]?.amount;
    if (amount?.currency_code !== 'USD') throw PaypalMockError.invalid('CURRENCY_NOT_SUPPORTED', 'currency_code must be USD.');
    const cents = positiveUsd(amount.value);
    const context = order.payment_source?.paypal?.experience_context ?? order.application_context ?? {};
    const now = new Date();
    const row: OrderRow = {
      id: paypalId(),
      intent: 'AUTHORIZE',
      status: 'CREATED',
      amount_cents: cents.toString(),
      currency: 'USD',
      purchase_units: [{ reference_id: 'default', ...(units[0] as Record<string, unknown>), amount: money(cents, 'USD') }],
      return_url: typeof context.return_url === 'string' ? context.return_url : null,
      cancel_url: typeof context.cancel_url === 'string' ? context.cancel_url : null,
      payer: null,
      create_time: now,
      update_time: now,
    };
    const response = answer(row);
    return (await this.payments.insertOrder(row, replay && { ...replay, ...response })) ? response : undefined;
  }

  async findOrder(id: string, manager?: EntityManager): Promise<OrderRow> {
    const order = await this.payments.findOrder(id, manager);
    if (!order) throw PaypalMockError.notFound(id);
    return order;
  }

  /** What the buyer does on PayPal's page: CREATED → APPROVED, with the payer. */
  async approveOrder(base: string, id: string, payerEmail: string | undefined): Promise<OrderRow> {
    const payer = {
      name: { given_name: 'Sandbox', surname: 'Buyer' },
      email_address: payerEmail ?? 'sandbox-buyer@example.com',
      payer_id: `PAYER${randomBytes(4).toString('hex').toUpperCase()}`,
      address: { country_code: 'US' },
    };
    const order = await this.findOrder(id);
    if (order.status === 'CREATED') {
      // Written with its webhook in one statement, which writes nothing if the order was approved meanwhile.
      const approved: OrderRow = { ...order, status: 'APPROVED', payer, update_time: new Date() };
      const webhooks = await this.webhooks.forStatement([{ type: 'CHECKOUT.ORDER.APPROVED', resource: this.orderView(base, approved) }]);
      const outboxIds = await this.payments.approveOrder(approved, webhooks);
      if (outboxIds) {
        this.webhooks.published(webhooks.rows, outboxIds);
        return approved;
      }
    }
    const now = order.status === 'CREATED' ? await this.findOrder(id) : order;
    if (now.status === 'APPROVED') return now;
    throw PaypalMockError.unprocessable('ORDER_ALREADY_COMPLETED', 'The order cannot be approved again.');
  }

  /**
   * APPROVED → COMPLETED with its authorization, written with its webhook in one statement sent in autocommit (and,
   * under a PayPal-Request-Id, `replay`, with the id's answer: `answer` makes it from the order and authorization
   * before they are stored). Undefined when the id had its answer already.
   */
  async authorizeOrder(
    base: string,
    id: string,
    answer: (order: OrderRow, authorization: AuthorizationRow) => MockResponse,
    replay?: ReplayKey,
  ): Promise<MockResponse | undefined> {
    const order = await this.findOrder(id);
    if (order.status !== 'APPROVED') throw this.notAuthorizable(order);
    const now = new Date();
    const completed: OrderRow = { ...order, status: 'COMPLETED', update_time: now };
    const authorization: AuthorizationRow = {
      id: paypalId(),
      order_id: order.id,
      status: 'CREATED',
      amount_cents: order.amount_cents,
      captured_cents: '0',
      currency: order.currency,
      honor_expires_at: new Date(now.getTime() + this.config.mockHonorPeriodMs),
      expiration_time: new Date(now.getTime() + this.config.mockValidityMs),
      create_time: now,
      update_time: now,
    };
    const response = answer(completed, authorization);
    const webhooks = await this.webhooks.forStatement([
      { type: 'PAYMENT.AUTHORIZATION.CREATED', resource: this.authorizationView(base, authorization) },
    ]);
    const outboxIds = await this.payments.authorize(completed, authorization, webhooks, replay && { ...replay, ...response });
    if (outboxIds) {
      this.webhooks.published(webhooks.rows, outboxIds);
      return response;
    }
    // Authorized meanwhile (the refusal, or under the same request id its answer), or the id had its answer.
    const current = await this.findOrder(id);
    if (current.status !== 'APPROVED') throw this.notAuthorizable(current);
    return undefined;
  }

  private notAuthorizable(order: OrderRow): PaypalMockError {
    if (order.status === 'CREATED')
      return PaypalMockError.unprocessable('ORDER_NOT_APPROVED', 'Payer has not yet approved the Order for payment.');
    return PaypalMockError.unprocessable(
      'ORDER_ALREADY_AUTHORIZED',
      'Order already authorized. If an order is authorized once, it cannot be authorized again.',
    );
  }

  /**
   * An order as PayPal shows it: with its authorization and, once there are any, the captures of that
   * authorization and their refunds (how a client whose answer was lost finds a capture or a refund it made).
   */
  orderView(
    base: string,
    order: OrderRow,
    authorization?: AuthorizationRow | null,
    settled: { captures: CaptureRow[]; refunds: RefundRow[] } = { captures: [], refunds: [] },
  ): Record<string, unknown> {
    const payments = authorization
      ? {
          authorizations: [this.authorizationView(base, authorization)],
          ...(settled.captures.length ? { captures: settled.captures.map((capture) => this.captureView(base, capture)) } : {}),
          ...(settled.refunds.length ? { refunds: settled.refunds.map((refund) => this.refundView(base, refund)) } : {}),
        }
      : null;
    const units = order.purchase_units.map((unit) => (payments ? { ...unit, payments } : unit));
    const links = [{ href: `${base}/v2/checkout/orders/${order.id}`, rel: 'self', method: 'GET' }];
    if (order.status === 'CREATED') links.push({ href: this.approveUrl(base, order.id), rel: 'approve', method: 'GET' });
    if (order.status === 'CREATED' || order.status === 'APPROVED') {
      links.push({ href: `${base}/v2/checkout/orders/${order.id}`, rel: 'update', method: 'PATCH' });
      links.push({ href: `${base}/v2/checkout/orders/${order.id}/authorize`, rel: 'authorize', method: 'POST' });
    }
    return {
      id: order.id,
      intent: order.intent,
      status: order.status,
      ...(order.payer ? { payer: order.payer } : {}),
      purchase_units: units,
      create_time: iso(order.create_time),
      update_time: iso(order.update_time),
      links,
    };
  }

  approveUrl(base: string, orderId: string): string {
    return `${base}/checkoutnow?token=${orderId}`;
  }

  /**
   * An order as showing it reads it: with its authorization and, once it has captured, that authorization's
   * captures and their refunds.
   */
  async findOrderSettled(id: string): Promise<{
    order: OrderRow;
    authorization: AuthorizationRow | null;
    settled: { captures: CaptureRow[]; refunds: RefundRow[] };
  }> {
    const found = await this.payments.findOrderWithAuthorization(id);
    if (!found) throw PaypalMockError.notFound(id);
    const { order, authorization } = found;
    const settled =
      authorization && BigInt(authorization.captured_cents) > 0n
        ? await this.payments.settledOfAuthorization(authorization.id)
        : { captures: [], refunds: [] };
    return { order, authorization, settled };
  }

  refundView(base: string, refund: RefundRow): Record<string, unknown> {
    return {
      id: refund.id,
      status: refund.status,
      amount: money(refund.amount_cents, refund.currency),
      links: [
        { href: `${base}/v2/payments/refunds/${refund.id}`, rel: 'self', method: 'GET' },
        { href: `${base}/v2/payments/captures/${refund.capture_id}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  // ---- Payments v2 ----

  async findAuthorization(id: string, manager?: EntityManager, lock = false): Promise<AuthorizationRow> {
    const authorization = await this.payments.findAuthorization(id, manager, lock);
    if (!authorization) throw PaypalMockError.notFound(id);
    return this.expireIfDue(authorization, manager);
  }

  /** An authorization past its validity reads as EXPIRED, and is stored so. */
  private async expireIfDue(authorization: AuthorizationRow, manager?: EntityManager): Promise<AuthorizationRow> {
    if (authorization.status !== 'CREATED' || authorization.expiration_time.getTime() > Date.now()) return authorization;
    return (await this.payments.expireAuthorization(authorization.id, manager)) ?? authorization;
  }

  authorizationView(base: string, authorization: AuthorizationRow): Record<string, unknown> {
    const links = [{ href: `${base}/v2/payments/authorizations/${authorization.id}`, rel: 'self', method: 'GET' }];
    if (authorization.status === 'CREATED' || authorization.status === 'PARTIALLY_CAPTURED') {
      links.push({ href: `${base}/v2/payments/authorizations/${authorization.id}/capture`, rel: 'capture', method: 'POST' });
    }
    if (authorization.status === 'CREATED') {
      links.push({ href: `${base}/v2/payments/authorizations/${authorization.id}/void`, rel: 'void', method: 'POST' });
    }
    links.push({ href: `${base}/v2/checkout/orders/${authorization.order_id}`, rel: 'up', method: 'GET' });
    return {
      id: authorization.id,
      status: authorization.status,
      amount: money(authorization.amount_cents, authorization.currency),
      seller_protection: { status: 'ELIGIBLE', dispute_categories: ['ITEM_NOT_RECEIVED', 'UNAUTHORIZED_TRANSACTION'] },
      supplementary_data: { related_ids: { order_id: authorization.order_id } },
      expiration_time: iso(authorization.expiration_time),
      create_time: iso(authorization.create_time),
      update_time: iso(authorization.update_time),
      links,
    };
  }

  /**
   * Captures all or part; `final_capture` (default true) closes the authorization. The authorization is read, and the
   * capture written with its webhook in one statement sent in autocommit that writes nothing if the authorization
   * changed since (then read again and decided afresh). Under a PayPal-Request-Id (`replay`), the statement keeps the
   * id's answer, which `answer` makes from the capture before it is stored; undefined when the id had its answer.
   */
  async capture(
    base: string,
    authorizationId: string,
    body: unknown,
    answer: (capture: CaptureRow) => MockResponse,
    replay?: ReplayKey,
  ): Promise<MockResponse | undefined> {
    const request = (body ?? {}) as { amount?: { currency_code?: unknown; value?: unknown }; final_capture?: unknown };
    let tried: AuthorizationRow | undefined;
    for (let read = 1; ; read += 1) {
      const authorization = await this.findAuthorization(authorizationId);
      // Unchanged since the statement wrote nothing: it was the request id, answered meanwhile.
      if (tried && replay && tried.status === authorization.status && tried.captured_cents === authorization.captured_cents)
        return undefined;
      const { cents, status, finalCapture } = capturable(authorization, request);
      if (read > 3) throw new Error(`Authorization ${authorizationId} kept changing under its capture`);
      const now = new Date();
      const capture: CaptureRow = {
        id: paypalId(),
        authorization_id: authorization.id,
        status: 'COMPLETED',
        amount_cents: cents.toString(),
        refunded_cents: '0',
        currency: authorization.currency,
        final_capture: finalCapture,
        create_time: now,
        update_time: now,
      };
      const response = answer(capture);
      const webhooks = await this.webhooks.forStatement([{ type: 'PAYMENT.CAPTURE.COMPLETED', resource: this.captureView(base, capture) }]);
      const outboxIds = await this.payments.capture(authorization, status, capture, webhooks, replay && { ...replay, ...response });
      if (outboxIds) {
        this.webhooks.published(webhooks.rows, outboxIds);
        return response;
      }
      tried = authorization;
    }
  }

  async void(base: string, authorizationId: string, outer: EntityManager = this.transactions.manager): Promise<AuthorizationRow> {
    return inTransaction(outer, async (manager) => {
      const authorization = await this.findAuthorization(authorizationId, manager, true);
      if (authorization.status === 'CAPTURED' || authorization.status === 'PARTIALLY_CAPTURED') {
        throw PaypalMockError.unprocessable(
          'PREVIOUSLY_CAPTURED',
          'Authorization has been previously captured and hence cannot be voided.',
        );
      }
      if (authorization.status === 'VOIDED')
        throw PaypalMockError.unprocessable(
          'PREVIOUSLY_VOIDED',
          'Authorization has been previously voided and hence cannot be voided again.',
        );
      if (authorization.status === 'EXPIRED')
        throw PaypalMockError.unprocessable('AUTHORIZATION_EXPIRED', 'An expired authorization cannot be voided.');
      const voided = await this.payments.voidAuthorization(manager, authorizationId);
      await this.webhooks.emit(manager, 'PAYMENT.AUTHORIZATION.VOIDED', this.authorizationView(base, voided));
      return voided;
    });
  }

  async findCapture(id: string, manager?: EntityManager, lock = false): Promise<CaptureRow> {
    const capture = await this.payments.findCapture(id, manager, lock);
    if (!capture) throw PaypalMockError.notFound(id);
    return capture;
  }

  captureView(base: string, capture: CaptureRow): Record<string, unknown> {
    const gross = BigInt(capture.amount_cents);
    // PayPal's fee on a capture: 3.49% + $0.49, half-up to the cent; the platform's cost, never the parties'.
    const fee = applyBps(gross, 349) + 49n;
    return {
      id: capture.id,
      status: capture.status,
      amount: money(capture.amount_cents, capture.currency),
      final_capture: capture.final_capture,
      seller_protection: { status: 'ELIGIBLE' },
      supplementary_data: { related_ids: { authorization_id: capture.authorization_id } },
      seller_receivable_breakdown: {
        gross_amount: money(gross, capture.currency),
        paypal_fee: money(fee, capture.currency),
        net_amount: money(gross - fee, capture.currency),
      },
      create_time: iso(capture.create_time),
      update_time: iso(capture.update_time),
      links: [
        { href: `${base}/v2/payments/captures/${capture.id}`, rel: 'self', method: 'GET' },
        { href: `${base}/v2/payments/captures/${capture.id}/refund`, rel: 'refund', method: 'POST' },
        { href: `${base}/v2/payments/authorizations/${capture.authorization_id}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  async refund(
    base: string,
    captureId: string,
    body: unknown,
    outer: EntityManager = this.transactions.manager,
  ): Promise<Record<string, unknown>> {
    const request = (body ?? {}) as { amount?: { currency_code?: unknown; value?: unknown } };
    return inTransaction(outer, async (manager) => {
      const capture = await this.findCapture(captureId, manager, true);
      const refundable = BigInt(capture.amount_cents) - BigInt(capture.refunded_cents);
      if (refundable === 0n) throw PaypalMockError.unprocessable('CAPTURE_FULLY_REFUNDED', 'The capture has already been fully refunded.');
      let cents = refundable;
      if (request.amount !== undefined) {
        cents = positiveUsd(request.amount?.value);
        if (cents > refundable)
          throw PaypalMockError.unprocessable(
            'REFUND_AMOUNT_EXCEEDED',
            'The refund amount must be less than or equal to the capture amount that has not yet been refunded.',
          );
      }
      const status = cents === refundable ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
      const id = await this.payments.insertRefund(manager, capture, { status, cents });
      await this.webhooks.emit(manager, 'PAYMENT.CAPTURE.REFUNDED', this.captureView(base, await this.findCapture(captureId, manager)));
      return {
        id,
        status: 'COMPLETED',
        amount: money(cents, capture.currency),
        links: [
          { href: `${base}/v2/payments/refunds/${id}`, rel: 'self', method: 'GET' },
          { href: `${base}/v2/payments/captures/${captureId}`, rel: 'up', method: 'GET' },
        ],
      };
    });
  }
}
