import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { QueueRegistry } from '../src/queues/queue-registry';
import { QUEUES } from '../src/queues/queue-names';
import { createOperator, TestUser } from './support/factories';
import { client, Api } from './support/http';
import { fixed, readyCounterparty, readyTraveler, wechatId } from './support/market';
import { paypalTrade } from './support/paypal-trades';
import { tradeState } from './support/trades';
import { eventually, freePort, startTestApp, TestApp } from './support/test-app';
import { fastBank, quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

/** A loopback listener standing in for an internal service an attacker wants the sandbox to reach: it counts every connection. */
async function internalTarget(): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    response.writeHead(200, { 'content-type': 'text/plain' }).end('internal');
  });
  server.on('connection', () => hits.push('connection'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

interface RawResponse {
  status: number;
  body: any;
}

/** One HTTP request with a `Host` header of the caller's choosing (fetch does not let a client set it). */
function withHost(
  baseUrl: string,
  method: string,
  path: string,
  host: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const target = new URL(path, baseUrl);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const sent = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: `${target.pathname}${target.search}`,
        headers: {
          host,
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...options.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    sent.on('error', reject);
    if (payload !== undefined) sent.write(payload);
    sent.end();
  });
}

describe('Sandbox mocks and the PayPal webhook verifier as a request forger', () => {
  const { test, api } = useTestApp(
    {
      ...quietRates,
      ...fastBank,
      OUTBOX_POLL_INTERVAL_MS: '50',
      PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '100',
      WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '100,100,100',
      // Funding is decided by the callbacks here, not by the platform asking again on its own.
      PROVIDER_POLL_EVERY_MS: '3600000',
      PROVIDER_POLL_MAX_EVERY_MS: '3600000',
      PROVIDER_WORK_SWEEP_EVERY_MS: '3600000',
    },
    { reference: '7.2400' },
  );
  let target: Awaited<ReturnType<typeof internalTarget>>;
  let evilHost: string;

  beforeAll(async () => {
    target = await internalTarget();
    evilHost = `127.0.0.1:${target.port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => target?.server.close(resolve));
  });

  const events = async (provider: string, type: string): Promise<string[]> =>
    (
      await test.app.get(DataSource).query(`SELECT event_id FROM provider_events WHERE provider = $1 AND event_type = $2`, [provider, type])
    ).map((row: { event_id: string }) => row.event_id);

  it('delivers a bank callback to the service, not to the Host the sender named: the trade still funds', async () => {
    const traveler = await readyTraveler(api);
    const counterparty = await readyCounterparty(api);
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
    });
    const trade = (await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} })).body;
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(funding.status).toBe(201);
    const before = (await events('bank', 'transfer.settled')).length;

    const sent = await withHost(test.baseUrl, 'POST', '/sandbox/bank/incoming', evilHost, {
      body: { reference: funding.body.reference, amountUsd: '138.12', senderAccount: 'DE89370400440532013000' },
    });
    expect(sent.status).toBe(202);
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    expect((await events('bank', 'transfer.settled')).length).toBe(before + 1);
    expect(target.hits).toEqual([]);
  });

  it('delivers PayPal events to the service and links to the configured base, whatever Host the caller sent', async () => {
    const { traveler, trade } = await paypalTrade(api);
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(funding.status).toBe(201);
    expect(funding.body.approveUrl).toBe(`${test.baseUrl}/sandbox/paypal/checkoutnow?token=${funding.body.orderId}`);

    const approved = await withHost(test.baseUrl, 'POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, evilHost, {
      body: { payerEmail: 'traveler-paypal@example.com' },
    });
    expect(approved.status).toBe(200);
    // The approval's webhook reaches our endpoint (stored), and funds the trade with no poll configured to do it.
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    expect((await events('paypal', 'CHECKOUT.ORDER.APPROVED')).length).toBeGreaterThan(0);

    // The API's links, and the reports', name the configured base, not the caller's Host.
    const basic = `Basic ${Buffer.from('yb-sandbox-client:yb-sandbox-secret').toString('base64')}`;
    const token = await withHost(test.baseUrl, 'POST', '/sandbox/paypal/v1/oauth2/token', evilHost, {
      body: { grant_type: 'client_credentials' },
      headers: { authorization: basic },
    });
    expect(token.status).toBe(200);
    const bearer = { authorization: `Bearer ${token.body.access_token}` };
    const order = await withHost(test.baseUrl, 'GET', `/sandbox/paypal/v2/checkout/orders/${funding.body.orderId}`, evilHost, {
      headers: bearer,
    });
    expect(order.status).toBe(200);
    const now = Date.now();
    const window = `start_date=${new Date(now - 3600_000).toISOString()}&end_date=${new Date(now + 60_000).toISOString()}`;
    const report = await withHost(test.baseUrl, 'GET', `/sandbox/paypal/v1/reporting/transactions?${window}`, evilHost, {
      headers: bearer,
    });
    expect(report.status).toBe(200);
    const links = [...order.body.links, ...order.body.purchase_units[0].payments.authorizations[0].links, ...report.body.links];
    expect(links.length).toBeGreaterThan(3);
    for (const link of links as { href: string }[]) expect(link.href.startsWith(`${test.baseUrl}/sandbox/paypal/`)).toBe(true);
    expect(target.hits).toEqual([]);
  });

  it('delivers a WeChat notification to the service, not to the Host the sender named', async () => {
    const from = wechatId();
    const to = wechatId();
    expect((await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: from, balanceCny: '100.00' } })).status).toBe(201);
    expect((await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: to, balanceCny: '0.00' } })).status).toBe(201);
    const before = (await events('wechat', 'WALLET_TRANSFER.SUCCESS')).length;
    const sent = await withHost(test.baseUrl, 'POST', '/sandbox/wechat/transfers', evilHost, {
      body: { fromWechatId: from, toWechatId: to, amountCny: '10.00' },
    });
    expect(sent.status).toBe(201);
    await eventually(async () => (await events('wechat', 'WALLET_TRANSFER.SUCCESS')).length === before + 1);
    expect(target.hits).toEqual([]);
  });

  it('fetches no certificate from an unlisted URL, and answers an open port and a closed one alike', async () => {
    const event = { id: `WH-${randomUUID()}`, event_type: 'CHECKOUT.ORDER.APPROVED', resource: { id: 'ORDER-1' } };
    const signedLooking = (certUrl: string) =>
      api('POST', '/v1/provider-webhooks/paypal', {
        body: event,
        headers: {
          'paypal-transmission-id': randomUUID(),
          'paypal-transmission-time': new Date().toISOString(),
          'paypal-transmission-sig': Buffer.from('not a signature').toString('base64'),
          'paypal-auth-algo': 'SHA256withRSA',
          'paypal-cert-url': certUrl,
        },
      });
    const closed = await freePort();
    const answers = [
      await signedLooking(`http://127.0.0.1:${target.port}/v1/notifications/certs/CERT-1`),
      await signedLooking(`http://127.0.0.1:${closed}/v1/notifications/certs/CERT-1`),
      // Tricks on the allowed prefixes: our own base as credentials, a path escaping the certificates, PayPal's host as a prefix.
      await signedLooking(`http://${new URL(test.baseUrl).host}@127.0.0.1:${target.port}/sandbox/paypal/v1/notifications/certs/CERT-1`),
      await signedLooking(`${test.baseUrl}/sandbox/paypal/v1/notifications/certs/..%2f..%2f..%2fhealth`),
      await signedLooking(`https://api.paypal.com.localhost:${target.port}/v1/notifications/certs/CERT-1`),
    ];
    const shapes = answers.map(({ status, body }) => ({ status, body: { ...body, instance: undefined } }));
    for (const shape of shapes) {
      expect(shape).toEqual({
        status: 401,
        body: {
          type: '/problems/invalid_signature',
          title: 'Invalid signature',
          status: 401,
          code: 'invalid_signature',
          detail: 'The webhook signature was refused',
          instance: undefined,
        },
      });
    }
    expect(target.hits).toEqual([]);
    expect(await events('paypal', event.event_type).then((ids) => ids.includes(event.id))).toBe(false);
  });

  describe('the queue dashboard', () => {
    let withActions: TestApp;
    let actionsApi: Api;
    let operator: TestUser;
    let jobId: string;

    beforeAll(async () => {
      operator = await createOperator(test, api);
      // A second process of the same deployment, with the dashboard's actions on.
      withActions = await startTestApp({ QUEUE_DASHBOARD_ACTIONS: 'true' }, test);
      actionsApi = client(withActions.baseUrl);
    });

    afterAll(async () => {
      await withActions?.close();
    });

    beforeEach(async () => {
      jobId = `dashboard-probe-${randomUUID()}`;
      await test.app.get(QueueRegistry).get(QUEUES.housekeeping).add('dashboard-probe', {}, { jobId, delay: 3600_000 });
    });

    it('is read-only by default: a mutating action is refused and changes nothing', async () => {
      const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
      for (const [method, path] of [
        ['PUT', `/admin/queues/api/queues/${QUEUES.housekeeping}/${jobId}/clean`],
        ['PUT', `/admin/queues/api/queues/${QUEUES.housekeeping}/${jobId}/promote`],
        ['PUT', `/admin/queues/api/queues/${QUEUES.housekeeping}/pause`],
        ['PUT', '/admin/queues/api/queues/pause'],
      ]) {
        const refused = await api(method, path, { token: operator.token });
        expect([path, refused.status]).toEqual([path, 405]);
      }
      expect(await (await queue.getJob(jobId))?.getState()).toBe('delayed');
      expect(await queue.isPaused()).toBe(false);
      // Reads still work.
      expect((await api('GET', `/admin/queues/api/queues/${QUEUES.housekeeping}/${jobId}`, { token: operator.token })).status).toBe(200);
      const audit = await api('GET', `/v1/admin/audit?operatorId=${operator.id}`, { token: operator.token });
      expect(audit.body.data.filter((entry: { targetType: string }) => entry.targetType === 'queue')).toEqual([]);
    });

    it('with actions enabled, writes each action to the audit log with the operator, the queue and the job', async () => {
      const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
      const cleaned = await actionsApi('PUT', `/admin/queues/api/queues/${QUEUES.housekeeping}/${jobId}/clean`, { token: operator.token });
      expect(cleaned.status).toBe(204);
      expect(await queue.getJob(jobId)).toBeUndefined();
      const audit = await api('GET', `/v1/admin/audit?operatorId=${operator.id}`, { token: operator.token });
      expect(audit.body.data.filter((entry: { targetType: string }) => entry.targetType === 'queue')).toEqual([
        expect.objectContaining({
          operatorId: operator.id,
          action: 'queues.clean',
          targetType: 'queue',
          detail: expect.objectContaining({ queue: QUEUES.housekeeping, jobId, method: 'PUT' }),
        }),
      ]);
      // Still operators only.
      expect((await actionsApi('PUT', `/admin/queues/api/queues/${QUEUES.housekeeping}/pause`)).status).toBe(401);
      expect(await queue.isPaused()).toBe(false);
    });
  });
});
