import type { ConfigType } from '@nestjs/config';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { serveMetrics } from '../src/bootstrap/metrics-server';
import { authConfig } from '../src/config';
import { ConsoleSessionsRepository } from '../src/users/console-sessions.repository';
import { createOperator, registerUser } from './support/factories';
import { eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';

describe('operations (HTTP)', () => {
  const { test, api } = useTestApp({ CORS_ORIGINS: 'https://app.example.com', DEADLINE_SWEEP_EVERY_MS: '200' });

  it('reports liveness and readiness of the database and Redis', async () => {
    expect((await api('GET', '/health/live')).body).toEqual({ status: 'ok' });
    const ready = await api('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
  });

  it('exposes Prometheus metrics with latency histograms by route template', async () => {
    const user = await registerUser(api, 'traveler');
    await api('GET', '/v1/me', { token: user.token });
    await api('GET', `/v1/users/${user.id}`, { token: user.token });
    const metrics = await api('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.text).toMatch(/http_request_duration_seconds_bucket\{[^}]*method="GET",route="\/v1\/me",status_code="200"/);
    expect(metrics.text).toContain('route="/v1/users/:id"');
    expect(metrics.text).not.toContain(user.id);
    expect(metrics.text).toContain('process_cpu_user_seconds_total');
    expect(metrics.text).toMatch(/bullmq_queue_jobs\{queue="deadlines",state="waiting"\} \d+/);
    expect(metrics.text).toMatch(/bullmq_queue_jobs\{queue="housekeeping",state="delayed"\} [1-9]/);
  });

  it('measures each job attempt by queue, job name and outcome', async () => {
    // The deadline sweeper runs every 200 ms here; its attempts show up in this process's histogram.
    const text = await eventually(async () => {
      const metrics = await api('GET', '/metrics');
      return (
        /bullmq_job_duration_seconds_count\{queue="deadlines",name="[a-z-]+",outcome="completed"\} [1-9]/.test(metrics.text) && metrics.text
      );
    });
    expect(text).toMatch(/bullmq_job_duration_seconds_bucket\{le="0.005",queue="deadlines",name="[a-z-]+",outcome="completed"\} \d+/);
  });

  it("serves the same metrics on the standalone worker's own port, and nothing else there", async () => {
    const { server, port } = await serveMetrics({ host: '127.0.0.1', port: 0 });
    try {
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toContain('text/plain');
      const text = await metrics.text();
      expect(text).toMatch(/bullmq_queue_jobs\{queue="deadlines",state="waiting"\} \d+/);
      expect(text).toContain('bullmq_job_duration_seconds_count{');
      expect((await fetch(`http://127.0.0.1:${port}/v1/me`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(404);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('serves an OpenAPI document describing every endpoint', async () => {
    const docs = await api('GET', '/docs-json', { token: 'a-production-docs-token-0123456789abcdefgh' });
    expect(docs.status).toBe(200);
    const operations = Object.entries(docs.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/auth/register',
        'POST /v1/auth/login',
        'GET /v1/me',
        'PUT /v1/me/wechat-wallet',
        'PUT /v1/me/payout-account',
        'POST /v1/me/api-keys',
        'GET /v1/me/api-keys',
        'DELETE /v1/me/api-keys/{id}',
        'GET /v1/users/{id}',
        'GET /v1/admin/users/{id}',
        'POST /v1/admin/users/{id}/suspend',
        'POST /v1/admin/users/{id}/unsuspend',
        'PUT /v1/admin/users/{id}/tier',
        'GET /v1/admin/audit',
        'GET /health/live',
        'GET /health/ready',
        'GET /v1/rates/usd-cny',
        'POST /v1/requests/{id}/accept',
        'POST /v1/offers/{id}/take',
        'GET /v1/trades/{id}/events',
        'GET /v1/admin/ledger/check',
        'PUT /sandbox/faults',
        'POST /sandbox/paypal/v1/oauth2/token',
        'POST /sandbox/paypal/v2/checkout/orders',
        'POST /sandbox/paypal/v2/payments/authorizations/{id}/capture',
        'POST /sandbox/paypal/v1/payments/payouts',
        'POST /sandbox/paypal/orders/{orderId}/approve',
      ]),
    );
    expect(docs.body.components.schemas.RegisterDto.properties.role.enum).toEqual(['traveler', 'counterparty']);
    expect((await api('GET', '/docs')).status).toBe(200);
  });

  it('shows the queue dashboard to operators only', async () => {
    const traveler = await registerUser(api, 'traveler');
    const operator = await createOperator(test, api);
    expect((await api('GET', '/admin/queues')).status).toBe(401);
    expect((await api('GET', '/admin/queues', { token: 'forged' })).status).toBe(403);
    expect((await api('GET', '/admin/queues/api/queues', { token: traveler.token })).status).toBe(403);
    // Percent-encoded paths reach the same routes, so they are guarded the same.
    for (const path of ['/admin/%71ueues/api/queues', '/%61dmin/queues', '/admin/queues/%61pi/queues', '/admin//queues/api/queues']) {
      expect([401, 404]).toContain((await api('GET', path)).status);
    }
    const page = await api('GET', '/admin/queues', { token: operator.token });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    // Everything the page loads comes from this service: bull-board's template asks Google Fonts, which is taken out.
    const loads = [...page.text.matchAll(/<(?:link|script|img)\b[^>]*\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]);
    expect(loads).toEqual(expect.arrayContaining([expect.stringMatching(/^static\/css\//), expect.stringMatching(/^static\/js\//)]));
    for (const url of loads) expect(new URL(url, `${test.baseUrl}/admin/queues/`).origin).toBe(test.baseUrl);
    expect(page.text).not.toMatch(/fonts\.googleapis|https?:\/\/(?!www\.w3\.org)/);
    const queues = await api('GET', '/admin/queues/api/queues', { token: operator.token });
    expect(queues.status).toBe(200);
    expect(queues.body.queues.map((q: { name: string }) => q.name)).toContain('housekeeping');
  });

  it('opens a console session cookie for operators only, holding an opaque token of a stored session', async () => {
    const traveler = await registerUser(api, 'traveler');
    const operator = await createOperator(test, api);
    const refused = await api('POST', '/v1/auth/session', { body: { email: traveler.email, password: traveler.password } });
    expect(refused.status).toBe(403);
    expect((await api('POST', '/v1/auth/session', { body: { email: operator.email, password: 'wrong password' } })).status).toBe(401);

    const session = await api('POST', '/v1/auth/session', { body: { email: operator.email, password: operator.password } });
    expect(session.status).toBe(204);
    const setCookie = session.headers.get('set-cookie')!;
    const lifetime = test.app.get<ConfigType<typeof authConfig>>(authConfig.KEY).jwtExpiresInSeconds;
    expect(setCookie).toMatch(/^yb_session=[^;]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toMatch(/; Path=\/(;|$)/);
    expect(setCookie).toContain(`Max-Age=${lifetime}`);
    const cookie = setCookie.split(';')[0];
    const token = cookie.slice('yb_session='.length);
    // 32 random bytes in base64url, not a JWT.
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toContain('.');

    // Only the token's SHA-256 is stored, with the operator and the expiry.
    const rows: { token_hash: Buffer; user_id: string; seconds: number }[] = await test.app
      .get(DataSource)
      .query(
        `SELECT token_hash, user_id, extract(epoch FROM expires_at - created_at)::float AS seconds FROM console_sessions WHERE user_id = $1`,
        [operator.id],
      );
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash.equals(createHash('sha256').update(token).digest())).toBe(true);
    expect(rows[0].token_hash.toString('utf8')).not.toContain(token);
    expect(Math.abs(rows[0].seconds - lifetime)).toBeLessThan(5);

    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(200);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie: 'yb_session=forged' } })).status).toBe(403);
    // The /v1 API authenticates by Bearer or X-Api-Key only: the cookie grants nothing there.
    expect((await api('GET', '/v1/me', { headers: { cookie } })).status).toBe(401);
  });

  it('ends a console session on DELETE: the same cookie replayed is refused', async () => {
    const operator = await createOperator(test, api);
    const session = await api('POST', '/v1/auth/session', { body: { email: operator.email, password: operator.password } });
    const cookie = session.headers.get('set-cookie')!.split(';')[0];
    const other = await api('POST', '/v1/auth/session', { body: { email: operator.email, password: operator.password } });
    const otherCookie = other.headers.get('set-cookie')!.split(';')[0];
    expect(otherCookie).not.toBe(cookie);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(200);

    const ended = await api('DELETE', '/v1/auth/session', { headers: { cookie } });
    expect(ended.status).toBe(204);
    expect(ended.headers.get('set-cookie')).toMatch(/^yb_session=;.*Path=\/(;|$)/);
    expect(ended.headers.get('set-cookie')).toMatch(/Expires=Thu, 01 Jan 1970/);

    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(403);
    expect((await api('GET', '/admin/queues', { headers: { cookie } })).status).toBe(403);
    expect((await api('GET', '/admin/queues')).status).toBe(401);
    // Only that session ended: the operator's other one still admits.
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie: otherCookie } })).status).toBe(200);

    // Without a cookie, or with an unknown one, DELETE still clears the cookie and answers 204.
    const again = await api('DELETE', '/v1/auth/session', { headers: { cookie } });
    expect(again.status).toBe(204);
    const bare = await api('DELETE', '/v1/auth/session');
    expect(bare.status).toBe(204);
    expect(bare.headers.get('set-cookie')).toMatch(/yb_session=;.*Expires=Thu, 01 Jan 1970/);
  });

  it('refuses a console session whose user is no longer an operator, or that has expired; the purge deletes expired ones', async () => {
    const dataSource = test.app.get(DataSource);
    const open = async (user: { email: string; password: string }) =>
      (await api('POST', '/v1/auth/session', { body: { email: user.email, password: user.password } })).headers
        .get('set-cookie')!
        .split(';')[0];

    const demoted = await createOperator(test, api);
    const demotedCookie = await open(demoted);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie: demotedCookie } })).status).toBe(200);
    // No endpoint changes a role; the check is on the role read at each request all the same.
    await dataSource.query(`UPDATE users SET role = 'traveler' WHERE id = $1`, [demoted.id]);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie: demotedCookie } })).status).toBe(403);

    const expiring = await createOperator(test, api);
    const expiringCookie = await open(expiring);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie: expiringCookie } })).status).toBe(200);
    await dataSource.query(`UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [expiring.id]);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie: expiringCookie } })).status).toBe(403);

    expect(await test.app.get(ConsoleSessionsRepository).purgeExpired(1000)).toBeGreaterThanOrEqual(1);
    expect(await dataSource.query(`SELECT 1 FROM console_sessions WHERE user_id = $1`, [expiring.id])).toHaveLength(0);
    expect(await dataSource.query(`SELECT 1 FROM console_sessions WHERE user_id = $1`, [demoted.id])).toHaveLength(1);
  });

  it('sends security headers and a request id', async () => {
    const response = await api('GET', '/health/live');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('strict-transport-security')).toContain('max-age=');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('allows CORS only from the configured origins', async () => {
    const allowed = await api('OPTIONS', '/v1/me', {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const refused = await api('OPTIONS', '/v1/me', {
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' },
    });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    // A browser client may read why it was refused and which methods a path takes.
    const unauthenticated = await api('GET', '/v1/me', { headers: { origin: 'https://app.example.com' } });
    expect(unauthenticated.headers.get('access-control-expose-headers')).toMatch(/www-authenticate/);
    expect(unauthenticated.headers.get('access-control-expose-headers')).toMatch(/\ballow\b/);
  });

  it('logs each request as JSON with its id, and never credentials', async () => {
    const user = await registerUser(api, 'counterparty');
    await api('GET', '/v1/me', { token: user.token, headers: { 'x-request-id': 'log-check-request-1' } });
    const lines = test
      .readLog()
      .split('\n')
      .filter((line) => line.includes('log-check-request-1'))
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'request completed', req: expect.objectContaining({ id: 'log-check-request-1', url: '/v1/me' }) }),
    ]);
    expect(test.readLog()).not.toContain(user.token);
  });

  it('writes one access line a request, with its id, method, path, status and time, and no credential, cookie or query value', async () => {
    const user = await registerUser(api, 'traveler');
    const secrets = { query: `query-value-${Date.now()}`, cookie: `cookie-value-${Date.now()}`, key: `yb_key-value-${Date.now()}` };
    const headers = (id: string) => ({ 'x-request-id': id, cookie: `session=${secrets.cookie}` });
    expect(
      (await api('GET', `/v1/offers?limit=5&paymentMethod=${secrets.query}`, { token: user.token, headers: headers('access-line-ok-1') }))
        .status,
    ).toBe(400);
    expect((await api('GET', `/v1/offers?limit=5`, { token: user.token, headers: headers('access-line-ok-2') })).status).toBe(200);
    const anonymous = await api('GET', '/v1/me', { headers: { ...headers('access-line-401'), 'x-api-key': secrets.key } });
    expect(anonymous.status).toBe(401);
    const lines = () =>
      test
        .readLog()
        .split('\n')
        .filter((line) => line.includes('access-line-'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    await eventually(async () => lines().length >= 3);
    const line = (id: string) => lines().filter((l) => (l.req as { id?: string } | undefined)?.id === id);
    const fields = { time: expect.any(Number), pid: process.pid, hostname: expect.any(String), responseTime: expect.any(Number) };
    // A refusal of the caller's request is a warning, an answer information (customLogLevel's rules).
    expect(line('access-line-ok-1')).toEqual([
      {
        ...fields,
        level: 40,
        msg: 'request completed',
        req: { id: 'access-line-ok-1', method: 'GET', url: '/v1/offers' },
        res: { statusCode: 400 },
      },
    ]);
    expect(line('access-line-ok-2')).toEqual([
      {
        ...fields,
        level: 30,
        msg: 'request completed',
        req: { id: 'access-line-ok-2', method: 'GET', url: '/v1/offers' },
        res: { statusCode: 200 },
      },
    ]);
    expect(line('access-line-401')).toEqual([
      {
        ...fields,
        level: 40,
        msg: 'request completed',
        req: { id: 'access-line-401', method: 'GET', url: '/v1/me' },
        res: { statusCode: 401 },
      },
    ]);
    const log = test.readLog();
    for (const secret of [user.token, secrets.query, secrets.cookie, secrets.key]) expect(log).not.toContain(secret);
  });
});

describe('rate limits (HTTP)', () => {
  const { api } = useTestApp({ RATE_LIMIT_PER_IP: '30', RATE_LIMIT_PER_USER: '5', RATE_LIMIT_WINDOW_MS: '60000' });

  it('limits each user, whatever the address, with 429 and Retry-After', async () => {
    const user = await registerUser(api, 'traveler');
    const other = await registerUser(api, 'traveler');
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 7; i += 1) {
      const response = await api('GET', '/v1/me', { token: user.token });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(limited!.body.code).toBe('rate_limited');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another user from the same address still has their own allowance.
    expect((await api('GET', '/v1/me', { token: other.token })).status).toBe(200);
  });

  it('limits each address across anonymous requests', async () => {
    let last = 0;
    for (let i = 0; i < 40 && last !== 429; i += 1)
      // A new email each time: the per-account sign-in limit must not be what answers 429 here.
      last = (await api('POST', '/v1/auth/login', { body: { email: `x${i}@example.com`, password: 'whatever' } })).status;
    expect(last).toBe(429);
  });
});

describe('production mode', () => {
  const { api } = useTestApp({
    NODE_ENV: 'production',
    JWT_SECRET: 'a-production-secret-of-sufficient-length',
    FIELD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'k1',
    BLIND_INDEX_KEY: Buffer.alloc(32, 9).toString('base64'),
    PAYPAL_BASE_URL: 'https://api-m.paypal.com',
    PAYPAL_CLIENT_SECRET: 'a-production-paypal-secret',
    BANK_BASE_URL: 'https://api.bank.example',
    BANK_API_KEY: 'a-production-bank-key',
    BANK_WEBHOOK_SECRET: 'a-production-bank-webhook-secret',
    WECHATPAY_BASE_URL: 'https://api.mch.weixin.qq.com',
    WECHATPAY_APIV3_KEY: 'a-production-apiv3-key-32-bytes!',
    PAYPAL_CLIENT_ID: 'a-production-paypal-client',
    PAYPAL_WEBHOOK_ID: 'WH-PRODUCTION',
    WECHATPAY_MCHID: '1230000109',
    WECHATPAY_MERCHANT_SERIAL: '5157F09EFDC096DE15EBE81A47057A7200000002',
    WECHATPAY_MERCHANT_KEY_FILE: '/run/secrets/wechatpay/apiclient_key.pem',
    RATE_FEED_URL: 'https://127.0.0.1:1/usd-cny',
    METRICS_TOKEN: 'a-production-metrics-token-0123456789abcdef',
    DOCS_ENABLED: 'true',
    DOCS_TOKEN: 'a-production-docs-token-0123456789abcdefgh',
  });

  it('mounts no sandbox route: no provider mock, no fault injection', async () => {
    expect((await api('GET', '/health/ready')).status).toBe(200);
    expect((await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true } })).status).toBe(404);
    expect(
      (
        await api('POST', '/sandbox/paypal/v1/oauth2/token', {
          rawBody: 'grant_type=client_credentials',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
    ).toBe(404);
    expect((await api('GET', '/sandbox/rates/usd-cny')).status).toBe(404);
    const docs = await api('GET', '/docs-json', { token: 'a-production-docs-token-0123456789abcdefgh' });
    expect(Object.keys(docs.body.paths).filter((path) => path.startsWith('/sandbox'))).toEqual([]);
  });
});
