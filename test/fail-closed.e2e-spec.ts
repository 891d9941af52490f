import { JwtService } from '@nestjs/jwt';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { serveMetrics } from '../src/bootstrap/metrics-server';
import { DEV_JWT_SECRET } from '../src/config';
import { HttpRateFeed } from '../src/rates/http-rate-feed';
import { RatesService } from '../src/rates/rates.service';
import { createOperator } from './support/factories';
import { client, Api } from './support/http';
import { startHttpsRelay, HttpsRelay } from './support/https-relay';
import { startTestApp, TestApp } from './support/test-app';

const METRICS_TOKEN = 'metrics-token-of-a-test-deployment-0123456789';
const DOCS_TOKEN = 'docs-token-of-a-test-deployment-0123456789ab';
const PRODUCTION_JWT_SECRET = 'a-production-jwt-secret-nobody-else-knows-0123';

/** Every secret a production start needs, none of them a development value; providers on closed loopback ports. */
export function productionSecrets(dir: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    JWT_SECRET: PRODUCTION_JWT_SECRET,
    FIELD_ENCRYPTION_KEYS: `prod1:${Buffer.alloc(32, 3).toString('base64')}`,
    FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'prod1',
    BLIND_INDEX_KEY: Buffer.alloc(32, 4).toString('base64'),
    PAYPAL_BASE_URL: 'https://127.0.0.1:1',
    PAYPAL_CLIENT_ID: 'production-paypal-client',
    PAYPAL_CLIENT_SECRET: 'production-paypal-secret',
    PAYPAL_WEBHOOK_ID: 'WH-PRODUCTION-TEST',
    BANK_BASE_URL: 'https://127.0.0.1:1',
    BANK_API_KEY: 'production-bank-key',
    BANK_WEBHOOK_SECRET: 'production-bank-webhook-secret',
    WECHATPAY_BASE_URL: 'https://127.0.0.1:1',
    WECHATPAY_MCHID: '1230000109',
    WECHATPAY_MERCHANT_SERIAL: '5157F09EFDC096DE15EBE81A47057A7200000002',
    WECHATPAY_MERCHANT_KEY_FILE: join(dir, 'apiclient_key.pem'),
    WECHATPAY_APIV3_KEY: 'production-apiv3-key-of-32-bytes',
    METRICS_TOKEN,
  };
}

describe('a production service fails closed (HTTP)', () => {
  // `sandbox` serves the mock rate feed (and /metrics and the docs behind tokens); `production` takes its reference
  // from that feed through an HTTPS relay, with production secrets.
  let sandbox: TestApp;
  let production: TestApp;
  let relay: HttpsRelay;
  let sandboxApi: Api;
  let api: Api;
  let db: Client;

  beforeAll(async () => {
    sandbox = await startTestApp({ METRICS_TOKEN, DOCS_TOKEN });
    sandboxApi = client(sandbox.baseUrl);
    relay = await startHttpsRelay(`${sandbox.baseUrl}/sandbox/rates/usd-cny`);
    const dir = mkdtempSync(join(tmpdir(), 'yb-prod-'));
    writeFileSync(join(dir, 'relay.pem'), relay.certificate);
    production = await startTestApp({
      ...productionSecrets(dir),
      RATE_FEED_URL: relay.url,
      RATE_FEED_CA_FILE: join(dir, 'relay.pem'),
      REFERENCE_RATE_CACHE_MS: '0',
    });
    api = client(production.baseUrl);
    db = new Client({ connectionString: production.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await production?.close();
    await relay?.close();
    await sandbox?.close();
  });

  it('refuses a token signed with the development JWT secret, even for a real operator', async () => {
    const operator = await createOperator(production, api);
    expect((await api('GET', '/v1/admin/audit', { token: operator.token })).status).toBe(200);
    const forged = await new JwtService({ secret: DEV_JWT_SECRET }).signAsync({ sub: operator.id, role: 'operator' });
    const refused = await api('GET', '/v1/admin/audit', { token: forged });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('unauthenticated');
    // The same claims signed with the deployment's own secret pass: only the key differs.
    const genuine = await production.app.get(JwtService).signAsync({ sub: operator.id, role: 'operator' });
    expect((await api('GET', '/v1/admin/audit', { token: genuine })).status).toBe(200);
  });

  it('has no sandbox, no docs, and /metrics only with its token', async () => {
    expect((await api('GET', '/sandbox/rates/usd-cny')).status).toBe(404);
    expect((await api('PUT', '/sandbox/faults', { body: { provider: 'rates', down: true } })).status).toBe(404);
    for (const path of ['/docs', '/docs-json', '/docs-yaml']) expect((await api('GET', path)).status).toBe(404);
    const anonymous = await api('GET', '/metrics');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('unauthenticated');
    expect(anonymous.text).not.toContain('http_request_duration_seconds');
    expect((await api('GET', '/metrics', { token: `${METRICS_TOKEN}x` })).status).toBe(401);
    const scraped = await api('GET', '/metrics', { token: METRICS_TOKEN });
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain('http_request_duration_seconds');
  });

  it('takes its reference from the HTTPS feed, never the mock, and goes stale when the feed is down', async () => {
    const rates = production.app.get(RatesService);
    await rates.refresh();
    const stored = await db.query(`SELECT source FROM reference_rates ORDER BY id DESC LIMIT 1`);
    expect(stored.rows[0].source).toBe(`feed:${new URL(relay.url).host}`);
    expect((await db.query(`SELECT count(*)::int AS n FROM reference_rates WHERE source = 'mock'`)).rows[0].n).toBe(0);
    const reference = await api('GET', '/v1/rates/usd-cny');
    expect(reference.body).toMatchObject({ rate: expect.stringMatching(/^\d+\.\d{4}$/), stale: false });

    // The sandbox's feed goes down: the refresh fails as the mock's own does, and nothing is recorded.
    expect((await sandboxApi('PUT', '/sandbox/faults', { body: { provider: 'rates', down: true } })).status).toBe(200);
    try {
      const before = (await db.query(`SELECT count(*)::int AS n FROM reference_rates`)).rows[0].n;
      await expect(rates.refresh()).rejects.toMatchObject({ code: 'service_unavailable' });
      expect((await db.query(`SELECT count(*)::int AS n FROM reference_rates`)).rows[0].n).toBe(before);
      // Time passes with the feed down: the last reference is stale, and what needs a fresh one is refused.
      await db.query(`UPDATE reference_rates SET as_of = as_of - interval '1 hour'`);
      expect((await api('GET', '/v1/rates/usd-cny')).body.stale).toBe(true);
      await expect(rates.requireFresh()).rejects.toMatchObject({ code: 'reference_rate_stale' });
    } finally {
      await sandboxApi('PUT', '/sandbox/faults', { body: { provider: 'rates' } });
    }
    await rates.refresh();
    expect((await api('GET', '/v1/rates/usd-cny')).body.stale).toBe(false);
  });

  it('keeps an old answer as a stale reference, and refuses a future or implausible one', async () => {
    const rates = production.app.get(RatesService);
    try {
      // Two hours pass, and the feed answers a value an hour old: it is recorded as what it is, a stale reference.
      await db.query(`UPDATE reference_rates SET as_of = as_of - interval '2 hours'`);
      relay.override = { status: 200, body: { rate: '7.3000', asOf: new Date(Date.now() - 3600_000).toISOString() } };
      expect((await rates.refresh()).stale).toBe(true);
      expect((await api('GET', '/v1/rates/usd-cny')).body).toMatchObject({ rate: '7.3000', stale: true });
      await expect(rates.requireFresh()).rejects.toMatchObject({ code: 'reference_rate_stale' });
      const before = (await db.query(`SELECT count(*)::int AS n FROM reference_rates`)).rows[0].n;
      for (const body of [
        { rate: '7.3000', asOf: new Date(Date.now() + 3600_000).toISOString() },
        { rate: '730.0000', asOf: new Date().toISOString() },
        { rate: 7.3, asOf: new Date().toISOString() },
      ]) {
        relay.override = { status: 200, body };
        await expect(rates.refresh()).rejects.toMatchObject({ code: 'service_unavailable' });
      }
      expect((await db.query(`SELECT count(*)::int AS n FROM reference_rates`)).rows[0].n).toBe(before);
    } finally {
      relay.override = undefined;
    }
    expect((await rates.refresh()).stale).toBe(false);
  });

  it('reads the sandbox feed over plain HTTP outside production, and reports its fault as unavailable', async () => {
    const feed = new HttpRateFeed({
      url: `${sandbox.baseUrl}/sandbox/rates/usd-cny`,
      timeoutMs: 5000,
      minRate: 40000n,
      maxRate: 120000n,
    });
    const quote = await feed.latest();
    const direct = await sandboxApi('GET', '/sandbox/rates/usd-cny');
    expect(Math.abs(Date.parse(direct.body.asOf) - quote.asOf.getTime())).toBeLessThan(60_000);
    expect(quote.rate).toBeGreaterThan(0n);
    await sandboxApi('PUT', '/sandbox/faults', { body: { provider: 'rates', down: true } });
    try {
      await expect(feed.latest()).rejects.toMatchObject({ code: 'service_unavailable' });
    } finally {
      await sandboxApi('PUT', '/sandbox/faults', { body: { provider: 'rates' } });
    }
  });

  it('asks for the tokens where they are set, outside production too: Bearer, or Basic for the docs in a browser', async () => {
    const metrics = await sandboxApi('GET', '/metrics');
    expect(metrics.status).toBe(401);
    expect(metrics.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await sandboxApi('GET', '/metrics', { token: METRICS_TOKEN })).status).toBe(200);
    // The metrics token is not the docs token, nor the other way round.
    expect((await sandboxApi('GET', '/metrics', { token: DOCS_TOKEN })).status).toBe(401);
    for (const path of ['/docs', '/docs-json', '/docs-yaml', '/docs/swagger-ui.css']) {
      const refused = await sandboxApi('GET', path);
      expect({ path, status: refused.status }).toEqual({ path, status: 401 });
      expect(refused.headers.get('www-authenticate')).toMatch(/^Basic/);
      expect((await sandboxApi('GET', path, { token: METRICS_TOKEN })).status).toBe(401);
    }
    expect((await sandboxApi('GET', '/docs-json', { token: DOCS_TOKEN })).body.openapi).toMatch(/^3\./);
    const basic = `Basic ${Buffer.from(`operator:${DOCS_TOKEN}`).toString('base64')}`;
    expect((await sandboxApi('GET', '/docs-json', { headers: { authorization: basic } })).status).toBe(200);
    // A percent-escaped path reaches the same route, and the same check.
    expect((await sandboxApi('GET', '/%64ocs-json')).status).not.toBe(200);
    expect((await sandboxApi('GET', '/%6detrics')).status).not.toBe(200);
  });

  it("the worker's /metrics asks for the same token", async () => {
    const { server, port } = await serveMetrics({ host: '127.0.0.1', port: 0, token: METRICS_TOKEN });
    try {
      const url = `http://127.0.0.1:${port}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${DOCS_TOKEN}` } })).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('answers a body of 20,000 nested [ with 400 malformed_json, no stack in the answer or the log', async () => {
    const response = await sandboxApi('POST', '/v1/auth/login', {
      rawBody: '['.repeat(20000),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'malformed_json', status: 400 });
    expect(response.text).not.toMatch(/at .*\.(js|ts):\d+|node_modules|stack|RangeError/);
    const requestId = response.headers.get('x-request-id')!;
    const lines = sandbox
      .readLog()
      .split('\n')
      .filter((line) => line.includes(requestId));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toMatch(/"stack"|RangeError|Maximum call stack/);
  });
});
