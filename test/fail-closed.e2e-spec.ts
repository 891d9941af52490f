import { JwtService } from '@nestjs/jwt';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { serveMetrics } from '../src/bootstrap/metrics-server';
import { DEV_BLIND_INDEX_KEY, DEV_FIELD_ENCRYPTION_KEYS, DEV_JWT_SECRET } from '../src/config';
import { HttpRateFeed } from '../src/rates/http-rate-feed';
import { RatesService } from '../src/rates/rates.service';
import { ensureBuilt } from './support/crash/cluster';
import { createOperator } from './support/factories';
import { client, Api } from './support/http';
import { startHttpsRelay, HttpsRelay } from './support/https-relay';
import { deleteRedisKeys, dropDatabase, freePort, startTestApp, TestApp } from './support/test-app';

const METRICS_TOKEN = 'metrics-token-of-a-test-deployment-0123456789';
const DOCS_TOKEN = 'docs-token-of-a-test-deployment-0123456789ab';
const PRODUCTION_JWT_SECRET = 'a-production-jwt-secret-nobody-else-knows-0123';

/** Every secret a production start needs, none of them a development value; providers on closed loopback ports. */
function productionSecrets(dir: string): Record<string, string> {
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

describe('the service as started (node dist/src/main.js)', () => {
  const ROOT = join(__dirname, '..');
  const dir = mkdtempSync(join(tmpdir(), 'yb-start-'));
  const suffix = randomBytes(4).toString('hex');
  const databaseUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  databaseUrl.pathname = `/yb_start_${suffix}`;
  const queuePrefix = `{ybs_${suffix}}`;
  const base = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: queuePrefix,
    RUN_WORKERS: 'false',
    WECHATPAY_MERCHANT_KEY_FILE: join(dir, 'dev-key.pem'),
  };

  beforeAll(() => {
    ensureBuilt();
  }, 240000);

  afterAll(async () => {
    await dropDatabase(databaseUrl.toString());
    await deleteRedisKeys(queuePrefix);
  });

  interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
  }

  /** Runs the API until it exits, or until `until` shows in its output (then it is stopped); bounded either way. */
  function run(env: Record<string, string>, until?: (output: string) => boolean, onReady?: () => Promise<void>): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], { cwd: ROOT, env, stdio: 'pipe' });
      const result: Run = { code: null, stdout: '', stderr: '' };
      const timer = setTimeout(() => child.kill('SIGKILL'), 45000);
      let ready = false;
      child.stdout.on('data', (chunk: Buffer) => {
        result.stdout += chunk.toString();
        if (!ready && until?.(result.stdout)) {
          ready = true;
          void (onReady ?? (async () => undefined))()
            .catch(reject)
            .finally(() => child.kill('SIGTERM'));
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ ...result, code });
      });
    });
  }

  /** The problems a refused start names, one per line of its message. */
  const problemsOf = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('  - '));

  // Without the database it names, a start that got past its configuration would fail on another line.
  const refusing = { ...base, DATABASE_CREATE_IF_MISSING: 'false' };

  it.each(['producton', 'production ', ' production', 'PRODUCTION', 'Development', 'prod'])(
    'refuses to start with NODE_ENV=%j, in one clear line and no stack',
    async (nodeEnv) => {
      const result = await run({ ...refusing, NODE_ENV: nodeEnv });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^Yuanbridge cannot start\. Invalid configuration:/);
      expect(problemsOf(result.stderr)).toEqual([expect.stringContaining('NODE_ENV must be exactly development, test or production')]);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stdout).not.toContain('listening');
    },
  );

  const production = () => ({ ...refusing, ...productionSecrets(dir), RATE_FEED_URL: 'https://127.0.0.1:1/usd-cny' });

  it.each<[string, Record<string, string | undefined>, string]>([
    ['the development JWT secret', { JWT_SECRET: DEV_JWT_SECRET }, 'JWT_SECRET must be set in production'],
    [
      'the development field key under another key id',
      { FIELD_ENCRYPTION_KEYS: `prod1:${DEV_FIELD_ENCRYPTION_KEYS.split(':')[1]}` },
      'FIELD_ENCRYPTION_KEYS must be set in production',
    ],
    ['the development blind index key', { BLIND_INDEX_KEY: DEV_BLIND_INDEX_KEY }, 'BLIND_INDEX_KEY must be set in production'],
    ['no RATE_FEED_URL (the mock feed)', { RATE_FEED_URL: undefined }, 'RATE_FEED_URL must be set in production'],
    ['a plain-HTTP rate feed', { RATE_FEED_URL: 'http://127.0.0.1:1/usd-cny' }, 'RATE_FEED_URL must use https:'],
    ['no METRICS_TOKEN', { METRICS_TOKEN: undefined }, 'METRICS_TOKEN must be set in production'],
  ])('refuses to start in production with %s', async (_name, change, problem) => {
    const env: Record<string, string | undefined> = { ...production(), ...change };
    for (const [name, value] of Object.entries(change)) if (value === undefined) delete env[name];
    const result = await run(env as Record<string, string>);
    expect(result.code).toBe(1);
    expect(problemsOf(result.stderr)).toEqual([expect.stringContaining(problem)]);
  });

  it('starts as development with NODE_ENV unset: sandbox on, listening on 127.0.0.1 only', async () => {
    const port = await freePort();
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((address) => address?.family === 'IPv4' && !address.internal)?.address;
    const checks: Record<string, unknown> = {};
    const result = await run(
      { ...base, PORT: String(port) },
      (output) => output.includes('Yuanbridge API listening'),
      async () => {
        checks.feed = (await fetch(`http://127.0.0.1:${port}/sandbox/rates/usd-cny`)).status;
        checks.outside = outside
          ? await fetch(`http://${outside}:${port}/health/live`).then(
              (response) => response.status,
              (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
            )
          : 'ECONNREFUSED';
      },
    );
    const listening = JSON.parse(result.stdout.split('\n').find((line) => line.includes('Yuanbridge API listening'))!);
    expect(listening.url).toBe(`http://127.0.0.1:${port}`);
    // The sandbox mocks are mounted, and the port is closed on the machine's other address.
    expect(checks).toEqual({ feed: 200, outside: 'ECONNREFUSED' });
  });
});
