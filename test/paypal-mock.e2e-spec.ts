import { CheckoutPaymentIntent, Client, Environment, OrdersController, PaymentsController } from '@paypal/paypal-server-sdk';
import { randomUUID } from 'node:crypto';
import { loadPaypalConfig } from '../src/config';
import { PaypalRestClient } from '../src/payments/providers/paypal/paypal-rest.client';
import { client, Api } from './support/http';
import { paypalGet, paypalOrder, paypalOrderOfAuthorization, paypalPayoutBatches, paypalRefundsOfCapture } from './support/paypal';
import { eventually, startTestApp, TestApp } from './support/test-app';

const CLIENT_ID = 'conformance-client';
const CLIENT_SECRET = 'conformance-secret';

/** PayPal's official server SDK, redirected to the mock as PROVIDERS.md shows: the one change a real integration needs. */
function sdk(base: string, secret = CLIENT_SECRET) {
  class RedirectedClient extends Client {
    override getRequestBuilderFactory() {
      const inner = super.getRequestBuilderFactory();
      return (...args: Parameters<typeof inner>) => {
        const builder = inner(...args);
        builder.interceptRequest((request) => ({
          ...request,
          url: request.url.replace(/^https:\/\/api-m(\.sandbox)?\.paypal\.com/, base),
        }));
        return builder;
      };
    }
  }
  const paypal = new RedirectedClient({
    clientCredentialsAuthCredentials: { oAuthClientId: CLIENT_ID, oAuthClientSecret: secret },
    environment: Environment.Sandbox,
    timeout: 10000,
  });
  return { orders: new OrdersController(paypal), payments: new PaymentsController(paypal) };
}

async function failure(call: Promise<unknown>): Promise<{ statusCode: number; body: any }> {
  try {
    await call;
  } catch (error) {
    const e = error as { statusCode: number; body: string; result?: unknown };
    return { statusCode: e.statusCode, body: e.result ?? JSON.parse(e.body) };
  }
  throw new Error('expected the call to fail');
}

describe('PayPal mock, driven by the official @paypal/paypal-server-sdk', () => {
  let test: TestApp;
  let api: Api;
  let base: string;
  let paypal: ReturnType<typeof sdk>;

  beforeAll(async () => {
    test = await startTestApp({ PAYPAL_CLIENT_ID: CLIENT_ID, PAYPAL_CLIENT_SECRET: CLIENT_SECRET, PAYPAL_MOCK_VALIDITY_MS: '600000' });
    api = client(test.baseUrl);
    base = `${test.baseUrl}/sandbox/paypal`;
    paypal = sdk(base);
  });

  afterAll(async () => {
    await api?.('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    await test?.close();
  });

  async function approvedOrder(value = '10.00') {
    const created = await paypal.orders.createOrder({
      body: { intent: CheckoutPaymentIntent.Authorize, purchaseUnits: [{ amount: { currencyCode: 'USD', value } }] },
      prefer: 'return=representation',
    });
    const approve = await api('POST', `/sandbox/paypal/orders/${created.result.id}/approve`, { body: { payerEmail: 'buyer@example.com' } });
    expect(approve.body).toEqual({ id: created.result.id, status: 'APPROVED' });
    return created.result;
  }

  /** What PayPal's API shows this suite's account. */
  const account = () => ({ api, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  const batchesOf = async (senderBatchId: string) =>
    (await paypalPayoutBatches(account())).filter((batch) => batch.senderBatchId === senderBatchId);

  it('creates, shows, refuses to authorize before approval, then authorizes', async () => {
    const created = await paypal.orders.createOrder({
      body: { intent: CheckoutPaymentIntent.Authorize, purchaseUnits: [{ amount: { currencyCode: 'USD', value: '138.12' } }] },
    });
    expect(created.statusCode).toBe(201);
    expect(created.result.status).toBe('CREATED');
    const approveLink = created.result.links?.find((l) => l.rel === 'approve');
    expect(approveLink?.href).toBe(`${base}/checkoutnow?token=${created.result.id}`);

    const shown = await paypal.orders.getOrder({ id: created.result.id! });
    expect(shown.result.purchaseUnits?.[0].amount?.value).toBe('138.12');

    const early = await failure(paypal.orders.authorizeOrder({ id: created.result.id! }));
    expect(early.statusCode).toBe(422);
    expect(early.body.details[0].issue).toBe('ORDER_NOT_APPROVED');

    const page = await fetch(approveLink!.href);
    expect(await page.text()).toContain('138.12 USD');
    await api('POST', `/sandbox/paypal/orders/${created.result.id}/approve`, {});
    const authorized = await paypal.orders.authorizeOrder({ id: created.result.id!, prefer: 'return=representation' });
    expect(authorized.statusCode).toBe(201);
    expect(authorized.result.status).toBe('COMPLETED');
    const authorization = authorized.result.purchaseUnits?.[0].payments?.authorizations?.[0];
    expect(authorization).toMatchObject({ status: 'CREATED', amount: { currencyCode: 'USD', value: '138.12' } });
    expect(Date.parse(authorization!.expirationTime!)).toBeGreaterThan(Date.now());
    expect(authorized.result.payer?.emailAddress).toBe('sandbox-buyer@example.com');

    const again = await failure(paypal.orders.authorizeOrder({ id: created.result.id! }));
    expect(again.body.details[0].issue).toBe('ORDER_ALREADY_AUTHORIZED');
  });

  it('captures once; a second capture and a void after capture are refused', async () => {
    const order = await approvedOrder('50.00');
    const authorized = await paypal.orders.authorizeOrder({ id: order.id!, prefer: 'return=representation' });
    const authorizationId = authorized.result.purchaseUnits![0].payments!.authorizations![0].id!;
    const captured = await paypal.payments.captureAuthorizedPayment({
      authorizationId,
      body: { finalCapture: true },
      prefer: 'return=representation',
    });
    expect(captured.statusCode).toBe(201);
    expect(captured.result).toMatchObject({ status: 'COMPLETED', amount: { value: '50.00' }, finalCapture: true });
    expect(captured.result.sellerReceivableBreakdown?.paypalFee?.value).toBe('2.24'); // 3.49% of $50 + $0.49

    expect(
      (await failure(paypal.payments.captureAuthorizedPayment({ authorizationId, body: { finalCapture: true } }))).body.details[0].issue,
    ).toBe('AUTHORIZATION_ALREADY_CAPTURED');
    expect((await failure(paypal.payments.voidPayment({ authorizationId }))).body.details[0].issue).toBe('PREVIOUSLY_CAPTURED');
    expect((await paypal.payments.getAuthorizedPayment({ authorizationId })).result.status).toBe('CAPTURED');
    expect((await paypal.payments.getCapturedPayment({ captureId: captured.result.id! })).result.status).toBe('COMPLETED');

    const refunded = await paypal.payments.refundCapturedPayment({
      captureId: captured.result.id!,
      body: { amount: { currencyCode: 'USD', value: '20.00' } },
    });
    expect(refunded.result).toMatchObject({ status: 'COMPLETED', amount: { value: '20.00' } });
    expect(
      (
        await failure(
          paypal.payments.refundCapturedPayment({
            captureId: captured.result.id!,
            body: { amount: { currencyCode: 'USD', value: '30.01' } },
          }),
        )
      ).body.details[0].issue,
    ).toBe('REFUND_AMOUNT_EXCEEDED');
  });

  it('captures in part, then finally', async () => {
    const order = await approvedOrder('30.00');
    const authorizationId = (await paypal.orders.authorizeOrder({ id: order.id!, prefer: 'return=representation' })).result
      .purchaseUnits![0].payments!.authorizations![0].id!;
    await paypal.payments.captureAuthorizedPayment({
      authorizationId,
      body: { amount: { currencyCode: 'USD', value: '10.00' }, finalCapture: false },
    });
    expect((await paypal.payments.getAuthorizedPayment({ authorizationId })).result.status).toBe('PARTIALLY_CAPTURED');
    expect(
      (
        await failure(
          paypal.payments.captureAuthorizedPayment({ authorizationId, body: { amount: { currencyCode: 'USD', value: '20.01' } } }),
        )
      ).body.details[0].issue,
    ).toBe('MAX_CAPTURE_AMOUNT_EXCEEDED');
    await paypal.payments.captureAuthorizedPayment({ authorizationId, body: { finalCapture: true } });
    expect((await paypal.payments.getAuthorizedPayment({ authorizationId })).result.status).toBe('CAPTURED');
  });

  it('shows an order with its authorization, then the captures of it and their refunds, oldest first', async () => {
    const order = await approvedOrder('30.00');
    expect(await paypalOrder(account(), order.id!)).toMatchObject({ status: 'APPROVED', authorization: null, captures: [], refunds: [] });
    const authorizationId = (await paypal.orders.authorizeOrder({ id: order.id!, prefer: 'return=representation' })).result
      .purchaseUnits![0].payments!.authorizations![0].id!;
    expect(await paypalOrder(account(), order.id!)).toMatchObject({
      status: 'COMPLETED',
      authorization: { id: authorizationId, status: 'CREATED', amountCents: '3000' },
      captures: [],
      refunds: [],
    });
    const first = await paypal.payments.captureAuthorizedPayment({
      authorizationId,
      body: { amount: { currencyCode: 'USD', value: '10.00' }, finalCapture: false },
    });
    const second = await paypal.payments.captureAuthorizedPayment({ authorizationId, body: { finalCapture: true } });
    const refund = await paypal.payments.refundCapturedPayment({
      captureId: second.result.id!,
      body: { amount: { currencyCode: 'USD', value: '5.00' } },
    });
    expect(await paypalOrder(account(), order.id!)).toEqual({
      status: 'COMPLETED',
      authorization: expect.objectContaining({ id: authorizationId, status: 'CAPTURED', capturedCents: '3000' }),
      captures: [
        { id: first.result.id, status: 'COMPLETED', amountCents: '1000' },
        { id: second.result.id, status: 'PARTIALLY_REFUNDED', amountCents: '2000' },
      ],
      refunds: [{ id: refund.result.id, status: 'COMPLETED', amountCents: '500', captureId: second.result.id }],
    });
  });

  it('settles a batch of several payouts: each item SUCCESS, or UNCLAIMED for its receiver, with its fee (2 %, half up, at most $20)', async () => {
    const token = (
      await api('POST', '/sandbox/paypal/v1/oauth2/token', {
        rawBody: 'grant_type=client_credentials',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
      })
    ).body.access_token as string;
    const senderBatchId = `batch-${randomUUID()}`;
    const item = (receiver: string, value: string, senderItemId: string) => ({
      recipient_type: 'EMAIL',
      receiver,
      amount: { currency: 'USD', value },
      sender_item_id: senderItemId,
    });
    const created = await api('POST', '/sandbox/paypal/v1/payments/payouts', {
      headers: { authorization: `Bearer ${token}` },
      body: {
        sender_batch_header: { sender_batch_id: senderBatchId },
        items: [item('one@example.com', '12.34', 'a'), item('Unclaimed@Example.com', '1500.00', 'b'), item('two@example.com', '0.25', 'c')],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.batch_header).toMatchObject({ batch_status: 'PENDING', sender_batch_header: { sender_batch_id: senderBatchId } });
    const batchId = created.body.batch_header.payout_batch_id as string;
    const settled = await eventually(async () => {
      const batch = await paypalGet(account(), `/v1/payments/payouts/${batchId}`);
      return batch.batch_header.batch_status === 'SUCCESS' && batch;
    });
    expect(settled.batch_header).toMatchObject({
      amount: { currency: 'USD', value: '1512.59' },
      fees: { currency: 'USD', value: '20.26' },
      time_completed: expect.any(String),
    });
    const bySender = Object.fromEntries(
      (settled.items as { payout_item: { sender_item_id: string }; transaction_status: string; payout_item_fee: unknown }[]).map(
        (shown) => [shown.payout_item.sender_item_id, { status: shown.transaction_status, fee: shown.payout_item_fee }],
      ),
    );
    expect(bySender).toEqual({
      a: { status: 'SUCCESS', fee: { currency: 'USD', value: '0.25' } }, // 2 % of 12.34 = 0.2468
      b: { status: 'UNCLAIMED', fee: { currency: 'USD', value: '20.00' } }, // 2 % of 1500.00 = 30.00, at most 20.00
      c: { status: 'SUCCESS', fee: { currency: 'USD', value: '0.01' } }, // 2 % of 0.25 = 0.005, half up
    });
    const again = await api('POST', '/sandbox/paypal/v1/payments/payouts', {
      headers: { authorization: `Bearer ${token}` },
      body: { sender_batch_header: { sender_batch_id: senderBatchId }, items: [item('three@example.com', '1.00', 'd')] },
    });
    expect(again.status).toBe(400);
    expect(again.body.details[0].issue).toBe('DUPLICATE_SENDER_BATCH_ID');
    expect((await paypalGet(account(), `/v1/payments/payouts/${batchId}`)).items).toHaveLength(3);
  });

  it('voids with 204 (or 200 with the representation); a capture after void is refused', async () => {
    const order = await approvedOrder();
    const authorizationId = (await paypal.orders.authorizeOrder({ id: order.id!, prefer: 'return=representation' })).result
      .purchaseUnits![0].payments!.authorizations![0].id!;
    const voided = await paypal.payments.voidPayment({ authorizationId });
    expect(voided.statusCode).toBe(204);
    expect(voided.result).toBeNull();
    expect(
      (await failure(paypal.payments.captureAuthorizedPayment({ authorizationId, body: { finalCapture: true } }))).body.details[0].issue,
    ).toBe('AUTHORIZATION_VOIDED');

    const other = await approvedOrder();
    const otherId = (await paypal.orders.authorizeOrder({ id: other.id!, prefer: 'return=representation' })).result.purchaseUnits![0]
      .payments!.authorizations![0].id!;
    const shown = await paypal.payments.voidPayment({ authorizationId: otherId, prefer: 'return=representation' });
    expect(shown.statusCode).toBe(200);
    expect(shown.result?.status).toBe('VOIDED');
  });

  it('replays the first response for the same PayPal-Request-Id', async () => {
    const requestId = randomUUID();
    const body = { intent: CheckoutPaymentIntent.Authorize, purchaseUnits: [{ amount: { currencyCode: 'USD', value: '12.34' } }] };
    const first = await paypal.orders.createOrder({ body, paypalRequestId: requestId });
    const second = await paypal.orders.createOrder({ body, paypalRequestId: requestId });
    expect(second.result.id).toBe(first.result.id);
    const third = await paypal.orders.createOrder({ body, paypalRequestId: randomUUID() });
    expect(third.result.id).not.toBe(first.result.id);
  });

  it('answers a repeat whose work would now be refused with the first answer, and keeps no second change', async () => {
    const order = await approvedOrder('8.00');
    const requestId = randomUUID();
    const first = await paypal.orders.authorizeOrder({ id: order.id!, paypalRequestId: requestId, prefer: 'return=representation' });
    // Run again, the authorization would be refused (ORDER_ALREADY_AUTHORIZED): the id answers what the first made.
    const again = await paypal.orders.authorizeOrder({ id: order.id!, paypalRequestId: requestId, prefer: 'return=representation' });
    expect(again.statusCode).toBe(first.statusCode);
    expect(again.result).toEqual(first.result);
    // Under another id, the same call is refused as PayPal refuses it.
    const other = await failure(paypal.orders.authorizeOrder({ id: order.id!, paypalRequestId: randomUUID() }));
    expect(other.statusCode).toBe(422);
    expect(other.body).toMatchObject({ details: [{ issue: 'ORDER_ALREADY_AUTHORIZED' }] });
  });

  it('refuses a bad client secret, a bad token, and bad input, in PayPal shapes', async () => {
    const wrong = sdk(base, 'not-the-secret');
    const refused = await failure(wrong.orders.getOrder({ id: 'ANY' }));
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_client' });

    const badToken = await fetch(`${base}/v2/checkout/orders/ANY`, {
      headers: { authorization: 'Bearer forged', 'content-type': 'application/json' },
    });
    expect(badToken.status).toBe(401);
    expect(await badToken.json()).toMatchObject({ name: 'AUTHENTICATION_FAILURE', debug_id: expect.any(String) });

    const missing = await failure(paypal.orders.getOrder({ id: 'NOSUCHORDER00000' }));
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toMatchObject({ name: 'RESOURCE_NOT_FOUND', details: [{ issue: 'INVALID_RESOURCE_ID' }] });

    const badAmount = await failure(
      paypal.orders.createOrder({
        body: { intent: CheckoutPaymentIntent.Authorize, purchaseUnits: [{ amount: { currencyCode: 'USD', value: '1.234' } }] },
      }),
    );
    expect(badAmount.statusCode).toBe(400);
    expect(badAmount.body).toMatchObject({ name: 'INVALID_REQUEST', details: [{ issue: 'INVALID_PARAMETER_VALUE' }] });
  });

  it('refuses malformed bodies with 400 in PayPal shapes, never a 500', async () => {
    const token = (
      (await (
        await fetch(`${base}/v1/oauth2/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        })
      ).json()) as any
    ).access_token;
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const [path, body] of [
      ['/v2/checkout/orders', { intent: 'AUTHORIZE', purchase_units: [null] }],
      ['/v2/checkout/orders', { intent: 'AUTHORIZE', purchase_units: [{ amount: null }] }],
      ['/v1/payments/payouts', { sender_batch_header: { sender_batch_id: randomUUID() }, items: [null] }],
      [
        '/v1/payments/payouts',
        { sender_batch_header: { sender_batch_id: randomUUID() }, items: [{ receiver: 'a@example.com', amount: null }] },
      ],
    ] as const) {
      const response = await post(path, body);
      expect({ path, status: response.status }).toEqual({ path, status: 400 });
      expect(await response.json()).toMatchObject({ name: 'INVALID_REQUEST' });
    }
  });

  it('expires authorizations at the configured validity', async () => {
    const order = await approvedOrder();
    const authorizationId = (await paypal.orders.authorizeOrder({ id: order.id!, prefer: 'return=representation' })).result
      .purchaseUnits![0].payments!.authorizations![0].id!;
    const { Client: Pg } = await import('pg');
    const db = new Pg({ connectionString: test.databaseUrl });
    await db.connect();
    await db.query(`UPDATE paypal_mock_authorizations SET expiration_time = now() - interval '1 second' WHERE id = $1`, [authorizationId]);
    await db.end();
    expect(
      (await failure(paypal.payments.captureAuthorizedPayment({ authorizationId, body: { finalCapture: true } }))).body.details[0].issue,
    ).toBe('AUTHORIZATION_EXPIRED');
    expect((await paypal.payments.getAuthorizedPayment({ authorizationId })).result.status).toBe('EXPIRED');
  });

  describe('the platform adapter (PaypalRestClient) against the mock', () => {
    function adapter(baseUrl = base) {
      return new PaypalRestClient({ ...loadPaypalConfig({ PAYPAL_CLIENT_ID: CLIENT_ID, PAYPAL_CLIENT_SECRET: CLIENT_SECRET }), baseUrl });
    }

    it('runs a whole escrow: order, approval, authorization, capture, refund', async () => {
      const paypalPort = adapter();
      const order = await paypalPort.createOrder({
        amountUsd: 27624n,
        referenceId: 'trade-1',
        requestId: randomUUID(),
        returnUrl: 'https://example.com/back',
      });
      expect(order).toMatchObject({ status: 'CREATED', amountUsd: 27624n, approveUrl: `${base}/checkoutnow?token=${order.orderId}` });
      await expect(paypalPort.authorizeOrder(order.orderId, randomUUID())).rejects.toMatchObject({
        status: 422,
        issue: 'ORDER_NOT_APPROVED',
        retryable: false,
      });
      await api('POST', `/sandbox/paypal/orders/${order.orderId}/approve`, { body: { payerEmail: 'traveler@example.com' } });
      const authorized = await paypalPort.authorizeOrder(order.orderId, randomUUID());
      expect(authorized).toMatchObject({ status: 'COMPLETED', payerEmail: 'traveler@example.com', authorizationId: expect.any(String) });
      const authorization = await paypalPort.getAuthorization(authorized.authorizationId!);
      expect(authorization).toMatchObject({ status: 'CREATED', amountUsd: 27624n });
      const capture = await paypalPort.captureAuthorization(authorized.authorizationId!, randomUUID());
      expect(capture).toMatchObject({ status: 'COMPLETED', amountUsd: 27624n, paypalFeeUsd: 1013n }); // 3.49% of 276.24 = 9.64 + 0.49
      expect(await paypalPort.refundCapture(capture.captureId, randomUUID())).toMatchObject({ status: 'COMPLETED' });
    });

    it('pays out once when PayPal pays and then fails: the retry with the same sender_batch_id gets the first batch', async () => {
      const paypalPort = adapter();
      const senderBatchId = `yb-${randomUUID()}-payout`;
      const input = { senderBatchId, receiverEmail: 'counterparty@example.com', amountUsd: 13674n, note: 'trade' };
      await paypalPort.getOrder(
        (await paypalPort.createOrder({ amountUsd: 100n, referenceId: 'warm-up', requestId: randomUUID() })).orderId,
      ); // token first
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1 } });
      try {
        await expect(paypalPort.createPayout(input)).rejects.toMatchObject({ status: 500, retryable: true });
      } finally {
        await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
      }
      // Read once the faults are off (every PayPal call fails while they are on), before any retry.
      expect(await batchesOf(senderBatchId)).toHaveLength(1); // PayPal did make it, then failed
      const retried = await paypalPort.createPayout(input);
      const again = await paypalPort.createPayout(input);
      expect(again.batchId).toBe(retried.batchId);
      expect(await batchesOf(senderBatchId)).toHaveLength(1);
    });

    it('voids, and reports PayPal and network failures as such', async () => {
      const paypalPort = adapter();
      const order = await paypalPort.createOrder({ amountUsd: 1000n, referenceId: 'trade-2', requestId: randomUUID() });
      await api('POST', `/sandbox/paypal/orders/${order.orderId}/approve`, {});
      const authorized = await paypalPort.authorizeOrder(order.orderId, randomUUID());
      await paypalPort.voidAuthorization(authorized.authorizationId!, randomUUID());
      expect((await paypalPort.getAuthorization(authorized.authorizationId!)).status).toBe('VOIDED');

      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true } });
      try {
        await expect(paypalPort.getOrder(order.orderId)).rejects.toMatchObject({ status: 503, retryable: true });
      } finally {
        await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
      }
      await expect(adapter('http://127.0.0.1:1/sandbox/paypal').getOrder('X')).rejects.toMatchObject({
        status: 0,
        errorName: 'NETWORK_ERROR',
        retryable: true,
      });
    });
  });

  describe('PayPal-Request-Id under concurrency', () => {
    const N = 6;
    let token: string;

    beforeAll(async () => {
      const issued = await fetch(`${base}/v1/oauth2/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      token = ((await issued.json()) as { access_token: string }).access_token;
    });

    /** N identical calls at once, as a client that retries on a timeout while the first is still running. */
    async function concurrently(path: string, body: unknown, requestId = randomUUID()) {
      const answers = await Promise.all(
        Array.from({ length: N }, async () => {
          const response = await fetch(`${base}${path}`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'paypal-request-id': requestId,
              prefer: 'return=representation',
            },
            body: JSON.stringify(body),
          });
          return { status: response.status, body: (await response.json()) as any };
        }),
      );
      // Every caller gets the one answer PayPal made.
      for (const answer of answers) expect(answer).toEqual(answers[0]);
      return answers[0];
    }

    async function count(sql: string, params: unknown[]): Promise<number> {
      const { Client: Pg } = await import('pg');
      const db = new Pg({ connectionString: test.databaseUrl });
      await db.connect();
      try {
        return (await db.query(sql, params)).rows[0].n;
      } finally {
        await db.end();
      }
    }

    async function authorization(value: string): Promise<string> {
      const order = await approvedOrder(value);
      return (await paypal.orders.authorizeOrder({ id: order.id!, prefer: 'return=representation' })).result.purchaseUnits![0].payments!
        .authorizations![0].id!;
    }

    it('creates one order for identical concurrent creations', async () => {
      const value = '43.21';
      const before = await count(`SELECT count(*)::int AS n FROM paypal_mock_orders WHERE amount_cents = 4321`, []);
      const answer = await concurrently('/v2/checkout/orders', {
        intent: 'AUTHORIZE',
        purchase_units: [{ amount: { currency_code: 'USD', value } }],
      });
      expect(answer.status).toBe(201);
      expect(await count(`SELECT count(*)::int AS n FROM paypal_mock_orders WHERE amount_cents = 4321`, [])).toBe(before + 1);
    });

    it('approves an order once when its payer presses Approve several times at once, each press answered APPROVED', async () => {
      const created = await paypal.orders.createOrder({
        body: { intent: CheckoutPaymentIntent.Authorize, purchaseUnits: [{ amount: { currencyCode: 'USD', value: '6.00' } }] },
      });
      const presses = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          api('POST', `/sandbox/paypal/orders/${created.result.id}/approve`, { body: { payerEmail: `payer${i}@example.com` } }),
        ),
      );
      for (const press of presses) expect(press).toMatchObject({ status: 200, body: { id: created.result.id, status: 'APPROVED' } });
      // One approval stood: the payer of one press, whichever came first.
      const shown = await paypal.orders.getOrder({ id: created.result.id! });
      expect(Array.from({ length: N }, (_, i) => `payer${i}@example.com`)).toContain(shown.result.payer?.emailAddress);
      // And one approval's webhook was queued.
      expect(
        await count(
          `SELECT count(*)::int AS n FROM outbox WHERE payload::text LIKE $1 AND payload::text LIKE '%CHECKOUT.ORDER.APPROVED%'`,
          [`%${created.result.id}%`],
        ),
      ).toBe(1);
    });

    it('authorizes and voids once, every caller getting the first answer', async () => {
      const order = await approvedOrder('5.00');
      const authorized = await concurrently(`/v2/checkout/orders/${order.id}/authorize`, {});
      expect(authorized).toMatchObject({ status: 201, body: { status: 'COMPLETED' } });
      const authorizationId = authorized.body.purchase_units[0].payments.authorizations[0].id;
      const voided = await concurrently(`/v2/payments/authorizations/${authorizationId}/void`, {});
      expect(voided).toMatchObject({ status: 200, body: { status: 'VOIDED' } });
    });

    it('captures once for identical concurrent partial captures', async () => {
      const authorizationId = await authorization('30.00');
      const answer = await concurrently(`/v2/payments/authorizations/${authorizationId}/capture`, {
        amount: { currency_code: 'USD', value: '10.00' },
        final_capture: false,
      });
      expect(answer).toMatchObject({ status: 201, body: { status: 'COMPLETED', amount: { value: '10.00' } } });
      expect((await paypalOrderOfAuthorization(account(), authorizationId)).captures).toHaveLength(1);
      expect((await paypal.payments.getAuthorizedPayment({ authorizationId })).result.status).toBe('PARTIALLY_CAPTURED');
    });

    it('captures an authorization once when captures under different request ids race: the others are refused', async () => {
      const authorizationId = await authorization('40.00');
      const answers = await Promise.all(
        Array.from({ length: N }, async () => {
          const response = await fetch(`${base}/v2/payments/authorizations/${authorizationId}/capture`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'paypal-request-id': randomUUID() },
            body: JSON.stringify({ final_capture: true }),
          });
          return { status: response.status, body: (await response.json()) as any };
        }),
      );
      expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
      for (const refused of answers.filter((answer) => answer.status !== 201)) {
        expect(refused).toMatchObject({ status: 422, body: { details: [{ issue: 'AUTHORIZATION_ALREADY_CAPTURED' }] } });
      }
      expect((await paypalOrderOfAuthorization(account(), authorizationId)).captures).toHaveLength(1);
    });

    it('refunds once for identical concurrent partial refunds', async () => {
      const authorizationId = await authorization('30.00');
      const capture = await paypal.payments.captureAuthorizedPayment({ authorizationId, body: { finalCapture: true } });
      const captureId = capture.result.id!;
      const answer = await concurrently(`/v2/payments/captures/${captureId}/refund`, { amount: { currency_code: 'USD', value: '10.00' } });
      expect(answer).toMatchObject({ status: 201, body: { status: 'COMPLETED', amount: { value: '10.00' } } });
      expect(await paypalRefundsOfCapture(account(), captureId)).toHaveLength(1);
      const shown = await paypal.payments.getCapturedPayment({ captureId });
      expect(shown.result.status).toBe('PARTIALLY_REFUNDED');
    });

    it('pays out once for identical concurrent payouts, every caller getting the batch', async () => {
      const senderBatchId = `yb-${randomUUID()}-payout`;
      const answer = await concurrently('/v1/payments/payouts', {
        sender_batch_header: { sender_batch_id: senderBatchId },
        items: [{ receiver: 'counterparty@example.com', amount: { currency: 'USD', value: '12.00' } }],
      });
      expect(answer).toMatchObject({ status: 201, body: { batch_header: { sender_batch_header: { sender_batch_id: senderBatchId } } } });
      expect(await batchesOf(senderBatchId)).toHaveLength(1);
    });

    it('replays the stored success after a failure after success, to concurrent retries too', async () => {
      const authorizationId = await authorization('20.00');
      const captureId = (await paypal.payments.captureAuthorizedPayment({ authorizationId, body: { finalCapture: true } })).result.id!;
      const requestId = randomUUID();
      const body = { amount: { currency_code: 'USD', value: '5.00' } };
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1 } });
      try {
        const failed = await fetch(`${base}/v2/payments/captures/${captureId}/refund`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'paypal-request-id': requestId },
          body: JSON.stringify(body),
        });
        expect(failed.status).toBe(500);
      } finally {
        await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
      }
      const answer = await concurrently(`/v2/payments/captures/${captureId}/refund`, body, requestId);
      expect(answer).toMatchObject({ status: 201, body: { status: 'COMPLETED', amount: { value: '5.00' } } });
      expect(await paypalRefundsOfCapture(account(), captureId)).toHaveLength(1);
    });
  });

  describe('faults', () => {
    afterEach(async () => {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    });

    it('is down while down, and fine once cleared', async () => {
      expect((await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true } })).status).toBe(200);
      const down = await failure(paypal.orders.getOrder({ id: 'ANY' }));
      expect(down.statusCode).toBe(503);
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
      const order = await paypal.orders.createOrder({
        body: { intent: CheckoutPaymentIntent.Authorize, purchaseUnits: [{ amount: { currencyCode: 'USD', value: '1.00' } }] },
      });
      expect(order.statusCode).toBe(201);
    });

    it('fails the same calls again under the same seed', async () => {
      const run = async () => {
        await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', errorRate: 0.5, seed: 42 } });
        const outcomes: number[] = [];
        for (let i = 0; i < 12; i += 1) {
          const response = await fetch(`${base}/v2/checkout/orders/NOSUCHORDER00000`, { headers: { authorization: 'Bearer x' } });
          outcomes.push(response.status);
        }
        return outcomes;
      };
      const first = await run();
      expect(first).toContain(500);
      expect(first).toContain(401);
      expect(await run()).toEqual(first);
    });

    it('does the work and then fails, when told to', async () => {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1 } });
      const requestId = randomUUID();
      const body = { intent: CheckoutPaymentIntent.Authorize, purchaseUnits: [{ amount: { currencyCode: 'USD', value: '7.00' } }] };
      const failed = await failure(paypal.orders.createOrder({ body, paypalRequestId: requestId }));
      expect(failed.statusCode).toBe(500);
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
      // The order was made: asking again with the same request id finds it.
      const replay = await paypal.orders.createOrder({ body, paypalRequestId: requestId });
      expect(replay.result.status).toBe('CREATED');
    });

    it('adds latency', async () => {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', latencyMs: 300 } });
      const started = Date.now();
      await failure(paypal.orders.getOrder({ id: 'NOSUCHORDER00000' }));
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    });

    it('refuses bad settings with problem details', async () => {
      const bad = await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', errorRate: 2 } });
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toBe('errorRate');
      expect((await api('PUT', '/sandbox/faults', { body: { provider: 'fedex' } })).status).toBe(400);
      const badPaths = await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true, paths: ['v1/payments'] } });
      expect(badPaths.status).toBe(400);
      expect(badPaths.body.errors[0].field).toMatch(/^paths/);
      expect((await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', paths: 'v1' } })).status).toBe(400);
    });
  });
});
