#!/usr/bin/env node
/*
 * Time from a PayPal webhook arriving to the trade's new state being visible, over whole trades through
 * the mock, and how many PayPal calls one whole trade costs (counted by the mock).
 * Usage: npm run build && node bench/webhook-latency.js [--trades 30]
 * Polling is set to once a minute, so the webhook is what moves each trade.
 */
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { Client } = require('pg');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const trades = arg('trades', 30);
const port = 3902;
const baseUrl = `http://127.0.0.1:${port}`;

async function call(method, path, body, token) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

async function user(role) {
  const email = `${role}-${randomBytes(4).toString('hex')}@example.com`;
  await call('POST', '/v1/auth/register', { email, password: 'bench password 1', displayName: role, role });
  const token = (await call('POST', '/v1/auth/login', { email, password: 'bench password 1' })).body.accessToken;
  await call('PUT', '/v1/me/wechat-wallet', { wechatId: `wx_${randomBytes(5).toString('hex')}` }, token);
  if (role === 'counterparty') await call('PUT', '/v1/me/payout-account', { method: 'paypal', paypalEmail: `p-${email}` }, token);
  return token;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function waitFor(check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('timed out');
}

async function main() {
  const databaseUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  databaseUrl.pathname = `/yb_hooks_${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl.toString(),
    QUEUE_PREFIX: `{ybhooks_${randomBytes(3).toString('hex')}}`,
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    PROVIDER_POLL_EVERY_MS: '60000',
    PAYPAL_MOCK_PAYOUT_DELAY_MS: '50',
    OUTBOX_POLL_INTERVAL_MS: '1000',
    TIER0_OPEN_TRADES: '1000',
    TIER0_DAILY_USD: '1000000',
  };
  const child = spawn(process.execPath, ['dist/src/main.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const db = new Client({ connectionString: databaseUrl.toString() });
  try {
    for (let i = 0; i < 300; i += 1) {
      if (await fetch(`${baseUrl}/health/ready`).then((r) => r.status === 200, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await db.connect();
    const traveler = await user('traveler');
    const counterparty = await user('counterparty');
    // Non-empty fault settings make the mock count its calls (and change nothing else).
    await call('PUT', '/sandbox/faults', { provider: 'paypal', seed: 1 });
    const ids = [];
    for (let i = 0; i < trades; i += 1) {
      const request = await call('POST', '/v1/requests', { amountCny: '100.00', price: { type: 'floating', premiumBps: 0 }, paymentMethod: 'paypal' }, traveler);
      const trade = (await call('POST', `/v1/requests/${request.body.id}/accept`, {}, counterparty)).body;
      const funding = (await call('POST', `/v1/trades/${trade.id}/funding`, {}, traveler)).body;
      await call('POST', `/sandbox/paypal/orders/${funding.orderId}/approve`, {});
      await waitFor(async () => (await call('GET', `/v1/trades/${trade.id}`, undefined, traveler)).body.state === 'funded');
      await call('POST', `/v1/trades/${trade.id}/confirm-receipt`, {}, traveler);
      await waitFor(async () => (await call('GET', `/v1/trades/${trade.id}`, undefined, traveler)).body.state === 'completed');
      ids.push(trade.id);
    }
    const calls = (await db.query(`SELECT calls FROM sandbox_faults WHERE provider = 'paypal'`)).rows[0].calls;
    const latency = await db.query(
      `SELECT extract(epoch FROM (e.at - p.received_at)) * 1000 AS ms
         FROM trade_fundings f
         JOIN provider_events p ON p.event_type = 'CHECKOUT.ORDER.APPROVED' AND (p.raw_body::jsonb -> 'resource' ->> 'id') = f.order_id
         JOIN trade_events e ON e.trade_id = f.trade_id AND e.to_state = 'funded'
        WHERE f.trade_id = ANY($1::uuid[])
       UNION ALL
       SELECT extract(epoch FROM (e.at - p.received_at)) * 1000
         FROM trade_fundings f
         JOIN provider_events p ON p.event_type = 'PAYMENT.PAYOUTS-ITEM.SUCCEEDED' AND (p.raw_body::jsonb -> 'resource' ->> 'payout_item_id') = f.payout_item_id
         JOIN trade_events e ON e.trade_id = f.trade_id AND e.to_state = 'completed'
        WHERE f.trade_id = ANY($1::uuid[]) AND e.at > p.received_at`,
      [ids],
    );
    const samples = latency.rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    process.stdout.write(
      `${JSON.stringify(
        {
          trades,
          webhookToVisibleMs: { samples: samples.length, p50: percentile(samples, 50)?.toFixed(1), p99: percentile(samples, 99)?.toFixed(1) },
          perTrade: { paypalCalls: (Number(calls) / trades).toFixed(1) },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await db.end().catch(() => undefined);
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    const maintenance = new URL(databaseUrl);
    maintenance.pathname = '/postgres';
    const admin = new Client({ connectionString: maintenance.toString() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${databaseUrl.pathname.slice(1)}" WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error) => {
  process.stderr.write(`webhook bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
