import { randomUUID } from 'node:crypto';
import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client as Pg } from 'pg';
import { loadPaypalConfig } from '../src/config';
import { PaypalRestClient } from '../src/payments/providers/paypal/paypal-rest.client';
import { paypalWebhookJobId, wechatNotifyJobId } from '../src/queues/job-ids';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { client, Api } from './support/http';
import { eventually, startTestApp, TestApp } from './support/test-app';

/** What reached the service's webhook endpoint through the relay below, or was kept from it. */
interface Delivery {
  provider: 'paypal' | 'wechat';
  eventId: string;
  eventType: string;
  /** The service's answer; 0 when the relay refused the delivery or cut it off instead. */
  status: number;
  duplicate?: boolean;
}

type Refusal = 'answer 503' | 'cut the connection';

/**
 * Between the mocks and the service's own webhook endpoints: passes every delivery on, byte for byte with its
 * headers, and answers with the service's answer; or, once for an event type told, answers 503 or cuts the
 * connection without passing it on, as an outage would.
 */
async function relay(serviceUrl: () => string) {
  const deliveries: Delivery[] = [];
  const refuseOnce = new Map<string, Refusal>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const provider = request.url!.endsWith('/wechat') ? 'wechat' : 'paypal';
      const event = JSON.parse(raw.toString('utf8')) as { id: string; event_type: string };
      const seen = { provider, eventId: event.id, eventType: event.event_type } as const;
      const refusal = refuseOnce.get(event.event_type);
      if (refusal) {
        refuseOnce.delete(event.event_type);
        deliveries.push({ ...seen, status: 0 });
        if (refusal === 'answer 503') response.writeHead(503).end();
        else request.socket.destroy();
        return;
      }
      void pass(`${serviceUrl()}/v1/provider-webhooks/${provider}`, request.headers, raw).then(({ status, body }) => {
        deliveries.push({ ...seen, status, duplicate: body?.duplicate });
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, deliveries, refuseOnce };
}

async function pass(url: string, headers: IncomingHttpHeaders, raw: Buffer): Promise<{ status: number; body?: { duplicate?: boolean } }> {
  const forwarded = Object.fromEntries(
    Object.entries(headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name)),
  ) as Record<string, string>;
  const response = await fetch(url, { method: 'POST', headers: forwarded, body: raw });
  return { status: response.status, body: (await response.json().catch(() => undefined)) as { duplicate?: boolean } | undefined };
}

/**
 * The mocks send each webhook right after the commit of its change, from the process that committed it, and queue
 * its delivery job only when that attempt did not get a 2xx: a webhook the service took is not sent again, a
 * refused or unanswered one still reaches it (at least once), through the job. The service (its verifier, its
 * event store) is the receiver; only the relay in between refuses.
 */
describe('Mock webhooks sent after their commit, the delivery job as the fallback', () => {
  let test: TestApp;
  let api: Api;
  let hooks: Awaited<ReturnType<typeof relay>>;
  let paypal: PaypalRestClient;
  let db: Pg;

  beforeAll(async () => {
    hooks = await relay(() => test.baseUrl);
    test = await startTestApp({
      PAYPAL_MOCK_WEBHOOK_URL: `${hooks.url}/paypal`,
      WECHAT_MOCK_NOTIFY_URL: `${hooks.url}/wechat`,
      PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '200',
      WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '200,200',
      // A row the writer has not settled is the relay's after this: waiting past it shows nobody queued it again.
      // The first send has a little under half of it to get its answer.
      OUTBOX_AFTER_COMMIT_LEASE_MS: '6000',
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
    api = client(test.baseUrl);
    paypal = new PaypalRestClient({ ...loadPaypalConfig({}), baseUrl: `${test.baseUrl}/sandbox/paypal` });
    db = new Pg({ connectionString: test.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await test?.close();
    await new Promise((resolve) => hooks?.server.close(resolve));
  });

  const deliveriesOf = (eventType: string, eventId: string) =>
    hooks.deliveries.filter((delivery) => delivery.eventType === eventType && delivery.eventId === eventId);

  /** The id of the event of that type whose resource is `resourceId`, once it was first sent. */
  async function eventOf(eventType: string, resourceId: string): Promise<string> {
    return eventually(async () => {
      const { rows } = await db.query(
        `SELECT payload->'event'->>'id' AS id FROM outbox
          WHERE queue = 'sandbox-webhooks' AND payload->'event'->>'event_type' = $1 AND payload->'event'->'resource'->>'id' = $2`,
        [eventType, resourceId],
      );
      return rows[0]?.id as string | undefined;
    });
  }

  async function paypalJob(eventId: string) {
    return test.app.get(QueueRegistry).get(QUEUES.sandboxWebhooks).getJob(paypalWebhookJobId(eventId, 0));
  }

  /** Past the first retry's backoff and the rows' lease: anything queued again would have been sent by now. */
  const afterLeaseAndBackoff = () => new Promise((resolve) => setTimeout(resolve, 6500));

  async function authorizedOrder() {
    const order = await paypal.createOrder({ amountUsd: 2500n, referenceId: 'trade', requestId: randomUUID() });
    await api('POST', `/sandbox/paypal/orders/${order.orderId}/approve`, {});
    return { orderId: order.orderId, authorizationId: (await paypal.authorizeOrder(order.orderId, randomUUID())).authorizationId! };
  }

  it('sends a webhook the service takes once, with no delivery job, and its outbox row settled', async () => {
    const { orderId } = await authorizedOrder();
    const eventId = await eventOf('CHECKOUT.ORDER.APPROVED', orderId);
    await eventually(async () => deliveriesOf('CHECKOUT.ORDER.APPROVED', eventId).length === 1);
    await afterLeaseAndBackoff();
    expect(deliveriesOf('CHECKOUT.ORDER.APPROVED', eventId)).toEqual([expect.objectContaining({ status: 200, duplicate: false })]);
    expect(await paypalJob(eventId)).toBeUndefined();
    const { rows } = await db.query(`SELECT published_at FROM outbox WHERE payload->'event'->>'id' = $1`, [eventId]);
    expect(rows).toEqual([{ published_at: expect.any(Date) }]);
  });

  it.each<[Refusal, string]>([
    ['answer 503', 'PAYMENT.AUTHORIZATION.CREATED'],
    ['cut the connection', 'PAYMENT.AUTHORIZATION.VOIDED'],
  ])('delivers a webhook whose first send got no 2xx (%s) through its job, and the service takes it once', async (refusal, eventType) => {
    hooks.refuseOnce.set(eventType, refusal);
    const { authorizationId } = await authorizedOrder();
    if (eventType === 'PAYMENT.AUTHORIZATION.VOIDED') await paypal.voidAuthorization(authorizationId, randomUUID());
    const eventId = await eventOf(eventType, authorizationId);
    await eventually(async () => deliveriesOf(eventType, eventId).some((delivery) => delivery.status === 200));
    await afterLeaseAndBackoff();
    expect(deliveriesOf(eventType, eventId)).toEqual([
      expect.objectContaining({ status: 0 }),
      expect.objectContaining({ status: 200, duplicate: false }),
    ]);
    const job = await paypalJob(eventId);
    expect(await job?.getState()).toBe('completed');
  });

  it('sends a WeChat notification right after its transfer, and one refused on its schedule through its job', async () => {
    const from = `wxfrom${randomUUID().slice(0, 8)}`;
    const to = `wxto${randomUUID().slice(0, 8)}`;
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: from, balanceCny: '500.00' } });
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: to, balanceCny: '0.00' } });
    const transfer = () => api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny: '1.00' } });
    const sent = () => new Set(hooks.deliveries.filter((delivery) => delivery.provider === 'wechat').map((delivery) => delivery.eventId));
    const nextNotification = async (before: Set<string>) => eventually(async () => [...sent()].find((id) => !before.has(id)));
    const notifications = test.app.get(QueueRegistry).get(QUEUES.sandboxWechat);

    let before = sent();
    await transfer();
    const taken = await nextNotification(before);
    hooks.refuseOnce.set('WALLET_TRANSFER.SUCCESS', 'answer 503');
    before = sent();
    await transfer();
    const refused = await nextNotification(before);
    await eventually(async () => deliveriesOf('WALLET_TRANSFER.SUCCESS', refused).some((delivery) => delivery.status === 200));
    await afterLeaseAndBackoff();

    expect(deliveriesOf('WALLET_TRANSFER.SUCCESS', taken)).toEqual([expect.objectContaining({ status: 200, duplicate: false })]);
    expect(await notifications.getJob(wechatNotifyJobId(taken, 0, 0))).toBeUndefined();
    expect(deliveriesOf('WALLET_TRANSFER.SUCCESS', refused)).toEqual([
      expect.objectContaining({ status: 0 }),
      expect.objectContaining({ status: 200, duplicate: false }),
    ]);
    expect(await (await notifications.getJob(wechatNotifyJobId(refused, 0, 0)))?.getState()).toBe('completed');
  });
});

/** The same path at the default backoff, schedule and lease: nothing shortened but where the webhooks go. */
describe('Mock webhooks sent after their commit, at the default delays and lease', () => {
  let test: TestApp;
  let hooks: Awaited<ReturnType<typeof relay>>;
  let db: Pg;

  beforeAll(async () => {
    hooks = await relay(() => test.baseUrl);
    test = await startTestApp({ PAYPAL_MOCK_WEBHOOK_URL: `${hooks.url}/paypal`, WECHAT_MOCK_NOTIFY_URL: `${hooks.url}/wechat` });
    db = new Pg({ connectionString: test.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await test?.close();
    await new Promise((resolve) => hooks?.server.close(resolve));
  });

  it('sends a webhook the service takes once, with no delivery job, and its outbox row settled', async () => {
    const paypal = new PaypalRestClient({ ...loadPaypalConfig({}), baseUrl: `${test.baseUrl}/sandbox/paypal` });
    const order = await paypal.createOrder({ amountUsd: 2500n, referenceId: 'trade', requestId: randomUUID() });
    await client(test.baseUrl)('POST', `/sandbox/paypal/orders/${order.orderId}/approve`, {});
    const approved = () => hooks.deliveries.filter((delivery) => delivery.eventType === 'CHECKOUT.ORDER.APPROVED');
    const [delivery] = await eventually(async () => approved().length > 0 && approved());
    const published = await eventually(
      async () =>
        (
          await db.query(`SELECT published_at FROM outbox WHERE payload->'event'->>'id' = $1 AND published_at IS NOT NULL`, [
            delivery.eventId,
          ])
        ).rowCount,
    );
    expect(published).toBe(1);
    expect(approved()).toEqual([expect.objectContaining({ status: 200, duplicate: false })]);
    expect(await test.app.get(QueueRegistry).get(QUEUES.sandboxWebhooks).getJob(paypalWebhookJobId(delivery.eventId, 0))).toBeUndefined();
  });
});
