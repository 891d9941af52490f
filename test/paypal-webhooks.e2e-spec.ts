import { randomUUID } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { loadPaypalConfig } from '../src/config';
import { PaypalRestClient } from '../src/payments/providers/paypal/paypal-rest.client';
import { PaypalWebhookVerifier } from '../src/payments/providers/paypal/paypal-webhook.verifier';
import { paypalWebhookJobId } from '../src/queues/job-ids';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { client, Api } from './support/http';
import { eventually, startTestApp, TestApp } from './support/test-app';

interface Delivery {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  event: { id: string; event_type: string; resource: { id?: string; payout_item_id?: string } };
}

/** A loopback receiver standing in for our webhook endpoint; it can refuse the first attempts of an event. */
async function receiver(): Promise<{ server: Server; url: string; deliveries: Delivery[]; refuseFirst: Set<string> }> {
  const deliveries: Delivery[] = [];
  const refuseFirst = new Set<string>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const event = JSON.parse(raw.toString('utf8'));
      deliveries.push({ headers: request.headers, raw, event });
      if (refuseFirst.delete(event.event_type)) {
        response.writeHead(500).end();
        return;
      }
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, deliveries, refuseFirst };
}

describe('PayPal mock webhooks', () => {
  let test: TestApp;
  let api: Api;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let paypal: PaypalRestClient;
  let verifier: PaypalWebhookVerifier;

  beforeAll(async () => {
    hooks = await receiver();
    test = await startTestApp({
      PAYPAL_MOCK_WEBHOOK_URL: hooks.url,
      PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '50',
      OUTBOX_POLL_INTERVAL_MS: '50',
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '100',
      PAYPAL_MOCK_UNCLAIMED_RETURN_MS: '300',
    });
    api = client(test.baseUrl);
    paypal = new PaypalRestClient({ ...loadPaypalConfig({}), baseUrl: `${test.baseUrl}/sandbox/paypal` });
    verifier = test.app.get(PaypalWebhookVerifier);
  });

  afterAll(async () => {
    await api?.('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    await test?.close();
    await new Promise((resolve) => hooks?.server.close(resolve));
  });

  const deliveriesOf = (type: string, resourceId: string) =>
    hooks.deliveries.filter((d) => d.event.event_type === type && (d.event.resource.id ?? d.event.resource.payout_item_id) === resourceId);

  async function authorizedOrder() {
    const order = await paypal.createOrder({ amountUsd: 5000n, referenceId: 'trade', requestId: randomUUID() });
    await api('POST', `/sandbox/paypal/orders/${order.orderId}/approve`, {});
    return paypal.authorizeOrder(order.orderId, randomUUID());
  }

  it('delivers signed events that verify PayPal’s way, and refuses tampered, foreign or stale ones', async () => {
    const order = await authorizedOrder();
    const [approved] = await eventually(
      async () =>
        deliveriesOf('CHECKOUT.ORDER.APPROVED', order.orderId).length > 0 && deliveriesOf('CHECKOUT.ORDER.APPROVED', order.orderId),
    );
    const [created] = await eventually(async () => {
      const found = deliveriesOf('PAYMENT.AUTHORIZATION.CREATED', order.authorizationId!);
      return found.length > 0 && found;
    });
    for (const delivery of [approved, created]) {
      expect(delivery.headers).toMatchObject({
        'paypal-auth-algo': 'SHA256withRSA',
        'paypal-transmission-id': expect.any(String),
        'paypal-transmission-sig': expect.any(String),
      });
      expect(delivery.headers['paypal-cert-url']).toBe(`${test.baseUrl}/sandbox/paypal/v1/notifications/certs/CERT-mock-1`);
      expect(await verifier.verify(delivery.headers, delivery.raw)).toEqual({ ok: true });
    }
    const tampered = Buffer.from(created.raw.toString('utf8').replace('"CREATED"', '"VOIDED"'));
    expect(await verifier.verify(created.headers, tampered)).toEqual({ ok: false, reason: 'bad signature' });
    const foreign = { ...created.headers, 'paypal-cert-url': 'https://certs.example.com/CERT-1' };
    expect(await verifier.verify(foreign, created.raw)).toEqual({ ok: false, reason: 'untrusted certificate URL' });
    const later = Date.parse(String(created.headers['paypal-transmission-time'])) + 6 * 60 * 1000;
    expect(await verifier.verify(created.headers, created.raw, later)).toEqual({ ok: false, reason: 'stale' });
    const { 'paypal-transmission-sig': _sig, ...unsigned } = created.headers;
    expect(await verifier.verify(unsigned, created.raw)).toEqual({ ok: false, reason: 'unsigned' });

    // The postback endpoint agrees, and checks the exact bytes that were sent.
    const token = (
      (await (
        await fetch(`${test.baseUrl}/sandbox/paypal/v1/oauth2/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from('yb-sandbox-client:yb-sandbox-secret').toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        })
      ).json()) as any
    ).access_token;
    const postback = async (sig: string) =>
      (
        (await (
          await fetch(`${test.baseUrl}/sandbox/paypal/v1/notifications/verify-webhook-signature`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              auth_algo: 'SHA256withRSA',
              cert_url: created.headers['paypal-cert-url'],
              transmission_id: created.headers['paypal-transmission-id'],
              transmission_sig: sig,
              transmission_time: created.headers['paypal-transmission-time'],
              webhook_id: 'WH-YB-SANDBOX',
              webhook_event: created.event,
            }),
          })
        ).json()) as any
      ).verification_status;
    expect(await postback(String(created.headers['paypal-transmission-sig']))).toBe('SUCCESS');
    expect(await postback(String(approved.headers['paypal-transmission-sig']))).toBe('FAILURE');
  });

  it('retries a refused delivery, signing each attempt afresh', async () => {
    hooks.refuseFirst.add('PAYMENT.AUTHORIZATION.VOIDED');
    const order = await authorizedOrder();
    await paypal.voidAuthorization(order.authorizationId!, randomUUID());
    const attempts = await eventually(async () => {
      const found = deliveriesOf('PAYMENT.AUTHORIZATION.VOIDED', order.authorizationId!);
      return found.length >= 2 && found;
    });
    expect(attempts[0].event.id).toBe(attempts[1].event.id);
    expect(attempts[0].headers['paypal-transmission-id']).not.toBe(attempts[1].headers['paypal-transmission-id']);
    expect(attempts[0].headers['paypal-transmission-sig']).not.toBe(attempts[1].headers['paypal-transmission-sig']);
    for (const attempt of attempts) expect(await verifier.verify(attempt.headers, attempt.raw)).toEqual({ ok: true });
  });

  it('drops and duplicates webhooks when told to, and stops when cleared', async () => {
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', dropWebhooks: 1 } });
    const dropped = await authorizedOrder();
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', duplicateWebhooks: 1 } });
    const duplicated = await authorizedOrder();
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    const normal = await authorizedOrder();

    await eventually(async () => deliveriesOf('PAYMENT.AUTHORIZATION.CREATED', normal.authorizationId!).length === 1);
    const twice = await eventually(async () => {
      const found = deliveriesOf('PAYMENT.AUTHORIZATION.CREATED', duplicated.authorizationId!);
      return found.length === 2 && found;
    });
    expect(twice[0].event.id).toBe(twice[1].event.id);
    expect(deliveriesOf('PAYMENT.AUTHORIZATION.CREATED', dropped.authorizationId!)).toHaveLength(0);
    expect(deliveriesOf('PAYMENT.AUTHORIZATION.CREATED', normal.authorizationId!)).toHaveLength(1);
  });

  it('delays webhooks by a random time when told to reorder them, and delivers them all', async () => {
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', reorderWebhooks: true, seed: 3 } });
    const orders = [];
    try {
      for (let i = 0; i < 4; i += 1) orders.push(await authorizedOrder());
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    const { Client: Pg } = await import('pg');
    const db = new Pg({ connectionString: test.databaseUrl });
    await db.connect();
    try {
      const delays = await db.query(
        `SELECT round(extract(epoch FROM run_at - created_at) * 1000)::int AS delay_ms FROM outbox WHERE queue = 'sandbox-webhooks' AND payload->'event'->>'event_type' = 'PAYMENT.AUTHORIZATION.CREATED'
            AND payload->'event'->'resource'->>'id' = ANY($1::text[])`,
        [orders.map((o) => o.authorizationId)],
      );
      expect(delays.rows).toHaveLength(4);
      expect(new Set(delays.rows.map((r) => r.delay_ms)).size).toBeGreaterThan(1);
      for (const row of delays.rows) expect(row.delay_ms).toBeLessThan(2000);
    } finally {
      await db.end();
    }
    for (const order of orders)
      await eventually(async () => deliveriesOf('PAYMENT.AUTHORIZATION.CREATED', order.authorizationId!).length === 1);
  });

  describe('payouts, driven by the official @paypal/payouts-sdk', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const payoutsSdk = require('@paypal/payouts-sdk');

    function payoutsClient() {
      // Only the host and port of the base URL are used by this SDK: the prefix goes in by an injector (PROVIDERS.md).
      const environment = new payoutsSdk.core.PayPalEnvironment('yb-sandbox-client', 'yb-sandbox-secret', test.baseUrl, test.baseUrl);
      const http = new payoutsSdk.core.PayPalHttpClient(environment);
      http.addInjector((request: { path: string }) => {
        request.path = `/sandbox/paypal${request.path}`;
      });
      return http;
    }

    function postRequest(senderBatchId: string, receiver: string, value = '9.87') {
      const request = new payoutsSdk.payouts.PayoutsPostRequest();
      request.requestBody({
        sender_batch_header: { sender_batch_id: senderBatchId, email_subject: 'You have a payout', recipient_type: 'EMAIL' },
        items: [
          {
            recipient_type: 'EMAIL',
            amount: { value, currency: 'USD' },
            receiver,
            sender_item_id: `item-${senderBatchId}`,
            note: 'Yuanbridge payout',
          },
        ],
      });
      return request;
    }

    it('creates a batch, settles it, shows the batch and the item, and refuses a duplicate sender_batch_id', async () => {
      const http = payoutsClient();
      const senderBatchId = `batch-${randomUUID()}`;
      const created = await http.execute(postRequest(senderBatchId, 'counterparty@example.com'));
      expect(created.statusCode).toBe(201);
      expect(created.result.batch_header).toMatchObject({
        batch_status: 'PENDING',
        sender_batch_header: { sender_batch_id: senderBatchId },
      });
      const batchId = created.result.batch_header.payout_batch_id;

      const duplicate = await http
        .execute(postRequest(senderBatchId, 'counterparty@example.com'))
        .catch((error: { statusCode: number; message: string }) => error);
      expect(duplicate.statusCode).toBe(400);
      expect(JSON.parse(duplicate.message)).toMatchObject({ name: 'USER_BUSINESS_ERROR' });

      const settled = await eventually(async () => {
        const request = new payoutsSdk.payouts.PayoutsGetRequest(batchId);
        request.page(1);
        request.pageSize(10);
        request.totalRequired(true);
        const response = await http.execute(request);
        return response.result.batch_header.batch_status === 'SUCCESS' && response.result;
      });
      expect(settled.items).toHaveLength(1);
      expect(settled.items[0]).toMatchObject({
        transaction_status: 'SUCCESS',
        payout_item: { receiver: 'counterparty@example.com', amount: { currency: 'USD', value: '9.87' } },
      });
      const item = await http.execute(new payoutsSdk.payouts.PayoutsItemGetRequest(settled.items[0].payout_item_id));
      expect(item.result).toMatchObject({
        payout_batch_id: batchId,
        transaction_status: 'SUCCESS',
        payout_item_fee: { currency: 'USD', value: '0.20' },
      });

      await eventually(async () => deliveriesOf('PAYMENT.PAYOUTS-ITEM.SUCCEEDED', settled.items[0].payout_item_id).length === 1);
      // The item's and the batch's webhooks are separate deliveries (one job sends both, at once): either may arrive first.
      const batchEvent = await eventually(async () =>
        hooks.deliveries.find(
          (d) =>
            d.event.event_type === 'PAYMENT.PAYOUTSBATCH.SUCCESS' && (d.event.resource as any).batch_header?.payout_batch_id === batchId,
        ),
      );
      expect(batchEvent).toBeDefined();
      expect(await verifier.verify(batchEvent!.headers, batchEvent!.raw)).toEqual({ ok: true });
    });

    it("retries only the refused one of a settled batch's webhooks: the item's again, the batch's once", async () => {
      hooks.refuseFirst.add('PAYMENT.PAYOUTS-ITEM.SUCCEEDED');
      const http = payoutsClient();
      const created = await http.execute(postRequest(`batch-${randomUUID()}`, 'counterparty@example.com'));
      const batchId = created.result.batch_header.payout_batch_id;
      const itemId = await eventually(async () => {
        const response = await http.execute(new payoutsSdk.payouts.PayoutsGetRequest(batchId));
        return response.result.batch_header.batch_status === 'SUCCESS' && (response.result.items[0].payout_item_id as string);
      });
      const items = await eventually(async () => {
        const deliveries = deliveriesOf('PAYMENT.PAYOUTS-ITEM.SUCCEEDED', itemId);
        return deliveries.length === 2 && deliveries;
      });
      expect(items[1].event.id).toBe(items[0].event.id);
      expect(items[1].headers['paypal-transmission-id']).not.toBe(items[0].headers['paypal-transmission-id']);
      expect(await verifier.verify(items[1].headers, items[1].raw)).toEqual({ ok: true });
      const ofBatch = () =>
        hooks.deliveries.filter(
          (d) =>
            d.event.event_type === 'PAYMENT.PAYOUTSBATCH.SUCCESS' && (d.event.resource as any).batch_header?.payout_batch_id === batchId,
        );
      expect(ofBatch()).toHaveLength(1);
      // The job that sent them both (named by its first event) is done: nothing is left to send again.
      const job = await test.app.get(QueueRegistry).get(QUEUES.sandboxWebhooks).getJob(paypalWebhookJobId(items[0].event.id, 0));
      expect(job?.data.events.map((event: { event_type: string }) => event.event_type)).toEqual([
        'PAYMENT.PAYOUTS-ITEM.SUCCEEDED',
        'PAYMENT.PAYOUTSBATCH.SUCCESS',
      ]);
      await eventually(async () => (await job!.getState()) === 'completed');
      expect(ofBatch()).toHaveLength(1);
      expect(deliveriesOf('PAYMENT.PAYOUTS-ITEM.SUCCEEDED', itemId)).toHaveLength(2);
    });

    it('leaves a payout unclaimed, then returns it, with their webhooks', async () => {
      const http = payoutsClient();
      const created = await http.execute(postRequest(`batch-${randomUUID()}`, 'unclaimed@example.com'));
      const batchId = created.result.batch_header.payout_batch_id;
      const itemId = await eventually(async () => {
        const request = new payoutsSdk.payouts.PayoutsGetRequest(batchId);
        const response = await http.execute(request);
        return response.result.items[0]?.transaction_status === 'UNCLAIMED' && response.result.items[0].payout_item_id;
      });
      await eventually(async () => deliveriesOf('PAYMENT.PAYOUTS-ITEM.UNCLAIMED', itemId).length === 1);
      await eventually(async () => deliveriesOf('PAYMENT.PAYOUTS-ITEM.RETURNED', itemId).length === 1);
      expect((await http.execute(new payoutsSdk.payouts.PayoutsItemGetRequest(itemId))).result.transaction_status).toBe('RETURNED');
    });
  });
});
