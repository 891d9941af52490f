import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { FieldEncryption } from '../src/common/crypto/field-encryption';
import { signPayload, verifyPayload } from '../src/common/crypto/hmac-signature';
import { RESPONSE_CONTEXT } from '../src/idempotency/idempotency.interceptor';
import { WebhookSink } from '../src/notifications/webhooks/webhook-sink';
import { WebhookSweep } from '../src/notifications/webhooks/webhook-sweep';
import { webhookDeliveryJobId, webhookDeliverySweepJobId } from '../src/queues/job-ids';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { registerUser, TestUser } from './support/factories';
import { client, Api } from './support/http';
import { eventually, startTestApp, TestApp } from './support/test-app';

/** What a receiver does with a request to one of its paths. */
type Behaviour = 'ok' | 'fail' | 'redirect' | 'hang';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook receiver on 127.0.0.1: each path answers as told, and every request is kept in the order it arrived. */
async function receiver() {
  const received: Received[] = [];
  const behaviours = new Map<string, Behaviour | ((count: number) => Behaviour)>();
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const rule = behaviours.get(path) ?? 'ok';
      const behaviour = typeof rule === 'function' ? rule(received.filter((r) => r.path === path).length) : rule;
      if (behaviour === 'ok') response.writeHead(200).end('ok');
      else if (behaviour === 'fail') response.writeHead(500).end('nope');
      else if (behaviour === 'redirect') response.writeHead(302, { location: '/ok' }).end();
      else hanging.push(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    behaviours,
    hanging,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    at: (path: string) => received.filter((r) => r.path === path),
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const ALLOWED = { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' };

describe('client webhooks', () => {
  let test: TestApp;
  let api: Api;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    hooks = await receiver();
    test = await startTestApp({ ...ALLOWED, WEBHOOK_MAX_ENDPOINTS_PER_USER: '3', OUTBOX_POLL_INTERVAL_MS: '50' });
    api = client(test.baseUrl);
    alice = await registerUser(api, 'traveler', 'alice');
    bob = await registerUser(api, 'counterparty', 'bob');
  }, 60000);

  afterAll(async () => {
    await hooks?.close();
    await test?.close();
  });

  const create = (user: TestUser, body: unknown) => api('POST', '/v1/webhooks/endpoints', { token: user.token, body });
  const deliveriesOf = async (user: TestUser, query = '') =>
    (await api('GET', `/v1/webhooks/deliveries${query}`, { token: user.token })).body.data as Record<string, unknown>[];
  const delivery = async (user: TestUser, id: string) => (await deliveriesOf(user, '?limit=100')).find((d) => d.id === id);

  it('registers an endpoint, shows its secret once, lists it without, and deletes it', async () => {
    const created = await create(alice, { url: hooks.url('/crud'), events: ['trade.funded', 'trade.completed'] });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      url: hooks.url('/crud'),
      events: ['trade.funded', 'trade.completed'],
      enabled: true,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
      createdAt: expect.any(String),
    });
    const all = await create(alice, { url: hooks.url('/crud-all') });
    expect(all.status).toBe(201);
    expect(all.body.events).toBeNull();

    const list = await api('GET', '/v1/webhooks/endpoints', { token: alice.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((e: { id: string }) => e.id)).toEqual([created.body.id, all.body.id]);
    expect(list.body.nextCursor).toBeNull();
    expect(list.text).not.toContain(created.body.secret);
    expect(list.text).not.toContain('secret');
    const paged = await api('GET', '/v1/webhooks/endpoints?limit=1', { token: alice.token });
    expect(paged.body.data.map((e: { id: string }) => e.id)).toEqual([created.body.id]);
    const next = await api('GET', `/v1/webhooks/endpoints?limit=1&cursor=${paged.body.nextCursor}`, { token: alice.token });
    expect(next.body.data.map((e: { id: string }) => e.id)).toEqual([all.body.id]);

    const deleted = await api('DELETE', `/v1/webhooks/endpoints/${created.body.id}`, { token: alice.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: created.body.id, enabled: false });
    expect(deleted.body.secret).toBeUndefined();
    const after = await api('GET', '/v1/webhooks/endpoints', { token: alice.token });
    expect(after.body.data.map((e: { id: string }) => e.id)).toEqual([all.body.id]);
    expect((await api('DELETE', `/v1/webhooks/endpoints/${created.body.id}`, { token: alice.token })).status).toBe(404);
    expect((await api('POST', `/v1/webhooks/endpoints/${created.body.id}/ping`, { token: alice.token })).status).toBe(404);
    await api('DELETE', `/v1/webhooks/endpoints/${all.body.id}`, { token: alice.token });
  });

  it('registers once under an Idempotency-Key, and a replay answers without the secret, which is not stored', async () => {
    const dave = await registerUser(api, 'traveler', 'dave');
    const send = () =>
      api('POST', '/v1/webhooks/endpoints', {
        token: dave.token,
        body: { url: hooks.url('/once') },
        headers: { 'idempotency-key': 'hook-1' },
      });
    const first = await send();
    expect(first.status).toBe(201);
    const { secret, ...shown } = first.body;
    expect(secret).toMatch(/^whsec_/);
    const replay = await send();
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(shown);
    expect(replay.text).not.toContain(secret);
    expect((await api('GET', '/v1/webhooks/endpoints', { token: dave.token })).body.data).toHaveLength(1);
    const [stored] = await test.app
      .get(DataSource)
      .query(`SELECT response_ciphertext AS ciphertext, response_key_id AS "keyId" FROM idempotency_keys WHERE owner_id = $1`, [dave.id]);
    expect(test.app.get(FieldEncryption).decrypt(stored, RESPONSE_CONTEXT)).not.toContain(secret);
  });

  it('refuses event types API.md does not name, and more endpoints than the cap', async () => {
    const carol = await registerUser(api, 'traveler', 'carol');
    for (const events of [['trade.exploded'], [], 'trade.funded', ['trade.funded', 'trade.funded'], [42]]) {
      const refused = await create(carol, { url: hooks.url('/x'), events });
      expect([events, refused.status, refused.body.code]).toEqual([events, 400, 'validation_failed']);
    }
    expect((await create(carol, { url: 42 })).body.code).toBe('validation_failed');
    expect((await create(carol, {})).body.code).toBe('validation_failed');
    for (let i = 0; i < 3; i += 1) expect((await create(carol, { url: hooks.url(`/cap-${i}`) })).status).toBe(201);
    const over = await create(carol, { url: hooks.url('/cap-3') });
    expect([over.status, over.body.code]).toEqual([409, 'conflict']);
    // A deleted endpoint no longer counts.
    const [first] = (await api('GET', '/v1/webhooks/endpoints', { token: carol.token })).body.data;
    await api('DELETE', `/v1/webhooks/endpoints/${first.id}`, { token: carol.token });
    expect((await create(carol, { url: hooks.url('/cap-3') })).status).toBe(201);
  });

  it.each([
    ['a loopback host not in WEBHOOK_ALLOWED_HOSTS', 'http://127.0.0.2:8080/hook'],
    ['localhost, which resolves to loopback', 'http://localhost:1/'],
    ['a private address', 'http://10.0.0.1/hook'],
    ['another private address', 'https://192.168.1.1/hook'],
    ['a shared (CGNAT) address', 'http://100.64.0.1/'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['the unspecified address', 'http://0.0.0.0/'],
    ['IPv6 loopback', 'http://[::1]/'],
    ['IPv6 link-local', 'http://[fe80::1]/'],
    ['IPv6 unique local', 'http://[fd00:ec2::254]/'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/'],
    ['a multicast address', 'http://224.0.0.1/'],
    ['loopback in decimal', 'http://2130706434/'],
    ['an ftp URL', 'ftp://example.com/hook'],
    ['a file URL', 'file:///etc/passwd'],
    ['a host that does not resolve', `https://${randomUUID()}.invalid/hook`],
    ['credentials in the URL', 'https://user:pass@example.com/hook'],
    ['not a URL at all', 'not a url'],
  ])('refuses %s: 400 webhook_url_not_allowed', async (_, url) => {
    const refused = await create(alice, { url });
    expect([refused.status, refused.body.code]).toEqual([400, 'webhook_url_not_allowed']);
  });

  it('delivers a ping signed with the secret, and logs it', async () => {
    const endpoint = (await create(alice, { url: hooks.url('/ping') })).body;
    const accepted = await api('POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`, { token: alice.token });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ endpointId: endpoint.id, eventType: 'ping', status: 'pending', attempts: 0 });

    const [got] = await eventually(async () => hooks.at('/ping').length > 0 && hooks.at('/ping'));
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-event-id']).toBe(accepted.body.eventId);
    expect(got.headers['x-event-type']).toBe('ping');
    expect(JSON.parse(got.body)).toEqual({ id: accepted.body.eventId, type: 'ping', createdAt: accepted.body.createdAt, data: {} });
    expect(verifyPayload(endpoint.secret, got.headers['x-signature'] as string, got.body)).toEqual({ ok: true });
    expect(verifyPayload('whsec_another', got.headers['x-signature'] as string, got.body)).toEqual({ ok: false, reason: 'mismatch' });

    const logged = await eventually(async () => {
      const row = await delivery(alice, accepted.body.id);
      return row?.status === 'delivered' && row;
    });
    expect(logged).toMatchObject({
      attempts: 1,
      lastStatusCode: 200,
      lastError: null,
      nextAttemptAt: null,
      deliveredAt: expect.any(String),
    });
    expect(hooks.at('/ping')).toHaveLength(1);
  });

  it('filters and pages the delivery log, newest first', async () => {
    const dora = await registerUser(api, 'traveler', 'dora');
    const one = (await create(dora, { url: hooks.url('/log-1') })).body;
    const two = (await create(dora, { url: hooks.url('/log-2') })).body;
    const pings: string[] = [];
    for (const endpoint of [one, two, one]) {
      pings.push((await api('POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`, { token: dora.token })).body.id);
    }
    await eventually(async () => (await deliveriesOf(dora, '?status=delivered')).length === 3);
    expect((await deliveriesOf(dora)).map((d) => d.id)).toEqual([...pings].reverse());
    expect((await deliveriesOf(dora, `?endpointId=${one.id}`)).map((d) => d.id)).toEqual([pings[2], pings[0]]);
    expect(await deliveriesOf(dora, '?eventType=trade.funded')).toEqual([]);
    expect(await deliveriesOf(dora, '?status=failed')).toEqual([]);
    const first = await api('GET', '/v1/webhooks/deliveries?limit=2', { token: dora.token });
    const rest = await api('GET', `/v1/webhooks/deliveries?limit=2&cursor=${first.body.nextCursor}`, { token: dora.token });
    expect([...first.body.data, ...rest.body.data].map((d: { id: string }) => d.id)).toEqual([...pings].reverse());
    expect(rest.body.nextCursor).toBeNull();
    for (const query of ['?status=lost', '?eventType=trade.exploded', '?endpointId=nope', '?cursor=bm9wZQ']) {
      const refused = await api('GET', `/v1/webhooks/deliveries${query}`, { token: dora.token });
      expect([query, refused.status, refused.body.code]).toEqual([query, 400, 'validation_failed']);
    }
  });

  it('hides an endpoint and its deliveries from everyone but its owner (404)', async () => {
    const endpoint = (await create(alice, { url: hooks.url('/private') })).body;
    await api('POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`, { token: alice.token });
    for (const [method, path] of [
      ['DELETE', `/v1/webhooks/endpoints/${endpoint.id}`],
      ['POST', `/v1/webhooks/endpoints/${endpoint.id}/enable`],
      ['POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`],
    ]) {
      const refused = await api(method, path, { token: bob.token });
      expect([method, path, refused.status, refused.body.code]).toEqual([method, path, 404, 'not_found']);
    }
    expect((await api('GET', '/v1/webhooks/endpoints', { token: bob.token })).body.data).toEqual([]);
    expect(await deliveriesOf(bob)).toEqual([]);
    expect(await deliveriesOf(bob, `?endpointId=${endpoint.id}`)).toEqual([]);
    // Still there, still enabled, for its owner.
    const mine = (await api('GET', '/v1/webhooks/endpoints', { token: alice.token })).body.data;
    expect(mine.find((e: { id: string }) => e.id === endpoint.id)).toMatchObject({ enabled: true });
  });

  it('keeps a receiver that never answers from delaying another endpoint', async () => {
    hooks.behaviours.set('/slow', 'hang');
    const hana = await registerUser(api, 'counterparty', 'hana');
    const slow = (await create(hana, { url: hooks.url('/slow') })).body;
    const fast = (await create(hana, { url: hooks.url('/fast') })).body;
    await api('POST', `/v1/webhooks/endpoints/${slow.id}/ping`, { token: hana.token });
    await eventually(async () => hooks.at('/slow').length === 1);
    await api('POST', `/v1/webhooks/endpoints/${fast.id}/ping`, { token: hana.token });
    await eventually(async () => hooks.at('/fast').length === 1);
    // The fast receiver got its ping after the slow one's arrived and while that one is still unanswered.
    const order = hooks.received.map((r) => r.path).filter((p) => p === '/slow' || p === '/fast');
    expect(order).toEqual(['/slow', '/fast']);
    expect(hooks.hanging.some((response) => !response.writableEnded)).toBe(true);
    for (const response of hooks.hanging) response.writeHead(200).end();
  });

  it('sends a trade event to each recipient endpoint whose filter takes it, once however often the fan-out runs', async () => {
    const erin = await registerUser(api, 'traveler', 'erin');
    const fred = await registerUser(api, 'counterparty', 'fred');
    const everything = (await create(erin, { url: hooks.url('/fan-all') })).body;
    const funded = (await create(fred, { url: hooks.url('/fan-funded'), events: ['trade.funded'] })).body;
    const other = (await create(fred, { url: hooks.url('/fan-other'), events: ['dispute.opened'] })).body;
    const event = {
      id: randomUUID(),
      type: 'trade.funded' as const,
      tradeId: randomUUID(),
      disputeId: null,
      messageId: null,
      createdAt: new Date(),
      streamSeq: '1',
      recipients: [
        { userId: erin.id, role: 'traveler' as const },
        { userId: fred.id, role: 'counterparty' as const },
      ],
    };
    const sink = test.app.get(WebhookSink);
    await sink.deliver(event);
    await sink.deliver(event);
    const erinLog = await deliveriesOf(erin, '?eventType=trade.funded');
    const fredLog = await deliveriesOf(fred, '?eventType=trade.funded');
    expect(erinLog.map((d) => [d.endpointId, d.eventId])).toEqual([[everything.id, event.id]]);
    expect(fredLog.map((d) => [d.endpointId, d.eventId])).toEqual([[funded.id, event.id]]);
    expect((await deliveriesOf(fred, `?endpointId=${other.id}`)).length).toBe(0);
  });

  it('runs the README’s receiver, whose check accepts our signature and refuses a forged one', async () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const snippet = /<!-- webhook-receiver -->\n```js\n([\s\S]*?)```/.exec(readme)![1];
    const port = await freePort();
    const ivan = await registerUser(api, 'traveler', 'ivan');
    const endpoint = (await create(ivan, { url: `http://127.0.0.1:${port}/` })).body;
    const child: ChildProcess = spawn(process.execPath, ['-e', snippet], {
      env: { PATH: process.env.PATH, WEBHOOK_SECRET: endpoint.secret, PORT: String(port) },
      stdio: 'ignore',
    });
    try {
      const post = (signature: string, body: string) =>
        fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'x-signature': signature }, body }).then((r) => r.status);
      await eventually(async () => (await post('', '{}').catch(() => 0)) === 401);
      expect(await post(signPayload('whsec_forged', '{"id":"x"}'), '{"id":"x"}')).toBe(401);
      expect(await post(signPayload(endpoint.secret, '{"id":"x"}', Date.now() - 600_000), '{"id":"x"}')).toBe(401);
      expect(await post(signPayload(endpoint.secret, '{"id":"x"}'), '{"id":"y"}')).toBe(401);
      expect(await post(signPayload(endpoint.secret, '{"id":"x"}'), '{"id":"x"}')).toBe(204);

      const ping = (await api('POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`, { token: ivan.token })).body;
      const logged = await eventually(async () => {
        const row = await delivery(ivan, ping.id);
        return row?.status !== 'pending' && row;
      });
      expect(logged).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 204 });
    } finally {
      child.kill();
    }
  });

  it('lists endpoints in the export without secrets, and removes them with the account', async () => {
    const gina = await registerUser(api, 'traveler', 'gina');
    const endpoint = (await create(gina, { url: hooks.url('/gina') })).body;
    const ping = (await api('POST', `/v1/webhooks/endpoints/${endpoint.id}/ping`, { token: gina.token })).body;
    await eventually(async () => (await delivery(gina, ping.id))?.status === 'delivered');

    const exported = await api('GET', '/v1/me/export', { token: gina.token });
    expect(exported.body.webhookEndpoints).toEqual([
      { id: endpoint.id, url: hooks.url('/gina'), events: null, enabled: true, createdAt: endpoint.createdAt, deletedAt: null },
    ]);
    expect(exported.text).not.toContain(endpoint.secret);

    expect((await api('DELETE', '/v1/me', { token: gina.token, body: { password: gina.password } })).status).toBe(200);
    const left = await test.app.get(DataSource).query(
      `SELECT (SELECT count(*)::int FROM webhook_endpoints WHERE user_id = $1) AS endpoints,
                     (SELECT count(*)::int FROM webhook_deliveries WHERE endpoint_id = $2) AS deliveries`,
      [gina.id, endpoint.id],
    );
    expect(left).toEqual([{ endpoints: 0, deliveries: 0 }]);
  });
});

describe('client webhooks: retries, failures and disabling', () => {
  let test: TestApp;
  let api: Api;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let owner: TestUser;

  beforeAll(async () => {
    hooks = await receiver();
    test = await startTestApp({
      ...ALLOWED,
      WEBHOOK_BACKOFF_MS: '100',
      WEBHOOK_ATTEMPTS: '3',
      WEBHOOK_DISABLE_AFTER_FAILURES: '2',
      WEBHOOK_SWEEP_EVERY_MS: '300',
      WEBHOOK_SWEEP_AFTER_MS: '2000',
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
    api = client(test.baseUrl);
    owner = await registerUser(api, 'traveler', 'owner');
  }, 60000);

  afterAll(async () => {
    await hooks?.close();
    await test?.close();
  });

  const create = async (path: string) =>
    (await api('POST', '/v1/webhooks/endpoints', { token: owner.token, body: { url: hooks.url(path) } })).body;
  const ping = async (id: string) => api('POST', `/v1/webhooks/endpoints/${id}/ping`, { token: owner.token });
  /** The delivery once it is delivered or failed. */
  const settled = (id: string) =>
    eventually(async () => {
      const data = (await api('GET', '/v1/webhooks/deliveries?limit=100', { token: owner.token })).body.data as Record<string, unknown>[];
      const row = data.find((d) => d.id === id);
      return row && row.status !== 'pending' && row;
    }, 15000);
  const endpointOf = async (id: string) =>
    ((await api('GET', '/v1/webhooks/endpoints', { token: owner.token })).body.data as { id: string; enabled: boolean }[]).find(
      (e) => e.id === id,
    );

  it('retries with a fresh signature until the receiver takes it: delivered on the third attempt', async () => {
    hooks.behaviours.set('/flaky', (count) => (count <= 2 ? 'fail' : 'ok'));
    const endpoint = await create('/flaky');
    const delivery = (await ping(endpoint.id)).body;
    const row = await settled(delivery.id);
    expect(row).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    const attempts = hooks.at('/flaky');
    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) {
      expect(attempt.headers['x-event-id']).toBe(delivery.eventId);
      expect(attempt.body).toBe(attempts[0].body);
      expect(verifyPayload(endpoint.secret, attempt.headers['x-signature'] as string, attempt.body)).toEqual({ ok: true });
    }
  });

  it('shows a pending retry in the log: its attempts, last status, error and next attempt', async () => {
    hooks.behaviours.set('/once', (count) => (count === 1 ? 'fail' : 'hang'));
    const endpoint = await create('/once');
    const delivery = (await ping(endpoint.id)).body;
    // The second attempt is held unanswered: the log shows the first one's outcome meanwhile.
    await eventually(async () => hooks.at('/once').length === 2);
    const data = (await api('GET', `/v1/webhooks/deliveries?endpointId=${endpoint.id}`, { token: owner.token })).body.data;
    expect(data).toEqual([
      expect.objectContaining({
        id: delivery.id,
        status: 'pending',
        attempts: 1,
        lastStatusCode: 500,
        lastError: 'The receiver answered 500',
        nextAttemptAt: expect.any(String),
        deliveredAt: null,
      }),
    ]);
    expect(Date.parse(data[0].nextAttemptAt)).toBeGreaterThan(Date.parse(data[0].createdAt));
    hooks.hanging.pop()!.writeHead(200).end();
    expect(await settled(delivery.id)).toMatchObject({ status: 'delivered', attempts: 2, lastError: null });
  });

  it('counts a redirect as a failure and never follows it', async () => {
    hooks.behaviours.set('/moved', 'redirect');
    const endpoint = await create('/moved');
    const delivery = (await ping(endpoint.id)).body;
    expect(await settled(delivery.id)).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastStatusCode: 302,
      lastError: 'Redirect (302) not followed',
      deliveredAt: null,
    });
    expect(hooks.at('/moved')).toHaveLength(3);
    expect(hooks.at('/ok')).toHaveLength(0);
  });

  it('disables an endpoint after the configured run of failed events, and its owner enables it again', async () => {
    hooks.behaviours.set('/down', 'fail');
    const endpoint = await create('/down');
    const first = (await ping(endpoint.id)).body;
    expect(await settled(first.id)).toMatchObject({ status: 'failed', attempts: 3, lastStatusCode: 500 });
    expect(await endpointOf(endpoint.id)).toMatchObject({ enabled: true });
    const second = (await ping(endpoint.id)).body;
    expect(await settled(second.id)).toMatchObject({ status: 'failed', attempts: 3 });
    expect(await endpointOf(endpoint.id)).toMatchObject({ enabled: false });
    expect(hooks.at('/down')).toHaveLength(6);

    const refused = await ping(endpoint.id);
    expect([refused.status, refused.body.code]).toEqual([409, 'invalid_state_transition']);

    hooks.behaviours.set('/down', 'ok');
    const enabled = await api('POST', `/v1/webhooks/endpoints/${endpoint.id}/enable`, { token: owner.token });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ id: endpoint.id, enabled: true });
    const third = (await ping(endpoint.id)).body;
    expect(await settled(third.id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hooks.at('/down')).toHaveLength(7);
  });

  it('resets the run when an event is delivered: failures either side of it do not add up', async () => {
    let failing = true;
    hooks.behaviours.set('/wobbly', () => (failing ? 'fail' : 'ok'));
    const endpoint = await create('/wobbly');
    expect(await settled((await ping(endpoint.id)).body.id)).toMatchObject({ status: 'failed' });
    failing = false;
    expect(await settled((await ping(endpoint.id)).body.id)).toMatchObject({ status: 'delivered' });
    failing = true;
    expect(await settled((await ping(endpoint.id)).body.id)).toMatchObject({ status: 'failed' });
    expect(await endpointOf(endpoint.id)).toMatchObject({ enabled: true });
  });

  it('sends nothing more to an endpoint deleted while its delivery waits for a retry', async () => {
    hooks.behaviours.set('/gone', 'hang');
    const endpoint = await create('/gone');
    const delivery = (await ping(endpoint.id)).body;
    await eventually(async () => hooks.at('/gone').length === 1);
    expect((await api('DELETE', `/v1/webhooks/endpoints/${endpoint.id}`, { token: owner.token })).status).toBe(200);
    // The attempt under way fails after the deletion: its retry finds the endpoint gone.
    hooks.hanging.pop()!.writeHead(500).end();
    expect(await settled(delivery.id)).toMatchObject({ status: 'failed', attempts: 1, lastError: 'The endpoint was deleted' });
    expect(hooks.at('/gone')).toHaveLength(1);
  });

  it('sends a delivery whose job Redis lost once the sweep finds it late', async () => {
    const queue = test.app.get(QueueRegistry).get(QUEUES.webhooks);
    const endpoint = await create('/lost');
    // Held in the queue, then lost from it: only the delivery log knows of it.
    await queue.pause();
    let deliveryId: string;
    try {
      deliveryId = (await ping(endpoint.id)).body.id;
      const job = await eventually(async () => queue.getJob(webhookDeliveryJobId(deliveryId)));
      await job.remove();
    } finally {
      await queue.resume();
    }
    expect(await settled(deliveryId)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hooks.at('/lost')).toHaveLength(1);
  });

  it('records a last failure racing the endpoint’s deletion with the account in the same lock order: no deadlock', async () => {
    const db = test.app.get(DataSource);
    hooks.behaviours.set('/doomed', (count) => (count <= 2 ? 'fail' : 'hang'));
    const endpoint = await create('/doomed');
    const delivery = (await ping(endpoint.id)).body;
    await eventually(async () => hooks.at('/doomed').length === 3);
    // The account's deletion, as far as its endpoint's row: the cascade to the deliveries comes after.
    const deletion = db.createQueryRunner();
    await deletion.connect();
    try {
      await deletion.startTransaction();
      await deletion.query(`SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR UPDATE`, [endpoint.id]);
      hooks.hanging.pop()!.writeHead(500).end();
      // The last attempt's bookkeeping now waits for the endpoint.
      await eventually(async () => {
        const [row] = await db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return row.n === 1;
      });
      // It has not taken the delivery's row meanwhile: the cascade below would wait on it, each on the other.
      await deletion.query(`SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR UPDATE NOWAIT`, [delivery.id]);
      await deletion.query(`DELETE FROM webhook_endpoints WHERE id = $1`, [endpoint.id]);
      await deletion.commitTransaction();
    } finally {
      if (deletion.isTransactionActive) await deletion.rollbackTransaction();
      await deletion.release();
    }
    const [left] = await db.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE id = $1`, [delivery.id]);
    expect(left.n).toBe(0);
  });

  it('leaves a late delivery whose job is still running to that job', async () => {
    hooks.behaviours.set('/busy', 'hang');
    const endpoint = await create('/busy');
    const delivery = (await ping(endpoint.id)).body;
    await eventually(async () => hooks.at('/busy').length === 1);
    // Long past its due time while its first attempt still waits on the receiver.
    await test.app
      .get(DataSource)
      .query(`UPDATE webhook_deliveries SET created_at = now() - interval '1 hour' WHERE id = $1`, [delivery.id]);
    const queue = test.app.get(QueueRegistry).get(QUEUES.webhooks);
    expect(await (await queue.getJob(webhookDeliveryJobId(delivery.id)))!.getState()).toBe('active');
    expect((await test.app.get(WebhookSweep).sweep()).requeued).toBe(0);
    expect(await queue.getJob(webhookDeliverySweepJobId(delivery.id, 0))).toBeUndefined();
    hooks.hanging.pop()!.writeHead(200).end();
    expect(await settled(delivery.id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hooks.at('/busy')).toHaveLength(1);
  });

  it('fails a delivery whose last attempt met an unexpected error, and counts it toward disabling', async () => {
    const endpoint = await create('/broken');
    // A secret that no longer decrypts: every attempt throws before any request is made.
    await test.app
      .get(DataSource)
      .query(`UPDATE webhook_endpoints SET secret_ciphertext = 'not-a-ciphertext' WHERE id = $1`, [endpoint.id]);
    const delivery = (await ping(endpoint.id)).body;
    expect(await settled(delivery.id)).toMatchObject({ status: 'failed', lastError: 'The attempt could not be made' });
    const second = (await ping(endpoint.id)).body;
    expect(await settled(second.id)).toMatchObject({ status: 'failed' });
    expect(await endpointOf(endpoint.id)).toMatchObject({ enabled: false });
    expect(hooks.at('/broken')).toHaveLength(0);
  });

  it('purges finished deliveries past the retention, then deleted endpoints with no log left', async () => {
    const db = test.app.get(DataSource);
    const kept = await create('/kept');
    const old = await create('/old');
    const keptPing = (await ping(kept.id)).body;
    const oldPing = (await ping(old.id)).body;
    await settled(keptPing.id);
    await settled(oldPing.id);
    await api('DELETE', `/v1/webhooks/endpoints/${old.id}`, { token: owner.token });
    await db.query(`UPDATE webhook_deliveries SET created_at = now() - interval '31 days' WHERE id = $1`, [oldPing.id]);
    await db.query(`UPDATE webhook_endpoints SET deleted_at = now() - interval '31 days' WHERE id = $1`, [old.id]);
    await eventually(async () => {
      const [row] = await db.query(`SELECT count(*)::int AS n FROM webhook_endpoints WHERE id = $1`, [old.id]);
      return row.n === 0;
    });
    const ids = (await api('GET', '/v1/webhooks/deliveries?limit=100', { token: owner.token })).body.data.map((d: { id: string }) => d.id);
    expect(ids).toContain(keptPing.id);
    expect(ids).not.toContain(oldPing.id);
    expect(await endpointOf(kept.id)).toMatchObject({ enabled: true });
  });
});

describe('client webhooks: an endpoint’s share of the delivery slots', () => {
  let test: TestApp;
  let api: Api;
  let hooks: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hooks = await receiver();
    test = await startTestApp({
      ...ALLOWED,
      WEBHOOK_CONCURRENCY: '3',
      WEBHOOK_CONCURRENCY_PER_ENDPOINT: '2',
      WEBHOOK_ENDPOINT_BUSY_DELAY_MS: '100',
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
    api = client(test.baseUrl);
  }, 60000);

  afterAll(async () => {
    await hooks?.close();
    await test?.close();
  });

  it('holds a dead receiver with many deliveries to its share, so another endpoint is still delivered', async () => {
    hooks.behaviours.set('/dead', 'hang');
    const mallory = await registerUser(api, 'traveler', 'mallory');
    const dead = (await api('POST', '/v1/webhooks/endpoints', { token: mallory.token, body: { url: hooks.url('/dead') } })).body;
    const pings: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      pings.push((await api('POST', `/v1/webhooks/endpoints/${dead.id}/ping`, { token: mallory.token })).body.id);
    }
    await eventually(async () => hooks.at('/dead').length === 2);

    const nina = await registerUser(api, 'counterparty', 'nina');
    const healthy = (await api('POST', '/v1/webhooks/endpoints', { token: nina.token, body: { url: hooks.url('/healthy') } })).body;
    await api('POST', `/v1/webhooks/endpoints/${healthy.id}/ping`, { token: nina.token });
    await eventually(async () => hooks.at('/healthy').length === 1);
    // Delivered while the dead receiver's two attempts still hang, and none of its other four was sent.
    expect(hooks.at('/dead')).toHaveLength(2);
    expect(hooks.hanging.filter((response) => !response.writableEnded)).toHaveLength(2);
    const waiting = (await api('GET', `/v1/webhooks/deliveries?endpointId=${dead.id}`, { token: mallory.token })).body.data;
    expect(waiting.map((d: { status: string; attempts: number }) => [d.status, d.attempts])).toEqual(Array(6).fill(['pending', 0]));

    // Its receiver back: every delivery goes, each on one attempt (waiting for a place counted none).
    hooks.behaviours.set('/dead', 'ok');
    for (const response of hooks.hanging) response.writeHead(200).end();
    await eventually(async () => {
      const data = (await api('GET', `/v1/webhooks/deliveries?endpointId=${dead.id}`, { token: mallory.token })).body.data;
      return data.every((d: { status: string }) => d.status === 'delivered') && data;
    });
    const done = (await api('GET', `/v1/webhooks/deliveries?endpointId=${dead.id}`, { token: mallory.token })).body.data;
    expect(done.map((d: { id: string; attempts: number }) => [d.id, d.attempts]).sort()).toEqual(pings.map((id) => [id, 1]).sort());
    expect(hooks.at('/dead')).toHaveLength(6);
  });
});
