// @ts-check
/* What every bench needs: start the built service on its own database, call it, stop it, drop the database. */
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { Redis } = require('ioredis');
const { Client } = require('pg');
const { createYuanbridgeClient, ok } = require('../clients/typescript');

const baseDatabaseUrl = () => process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database URL next to DATABASE_URL's, named `<prefix>_<random>`; created by the service's preflight. */
function freshDatabaseUrl(prefix) {
  const url = new URL(baseDatabaseUrl());
  url.pathname = `/${prefix}_${randomBytes(4).toString('hex')}`;
  return url;
}

/**
 * Drops a bench's database and the BullMQ keys of its queue prefix (`{<database name>}`), so runs leave
 * nothing behind in Redis to slow the next one down.
 */
async function dropDatabase(databaseUrl) {
  const name = new URL(databaseUrl).pathname.slice(1);
  // BENCH_KEEP_DB=1 keeps it to look into afterwards (timelines, query statistics).
  if (process.env.BENCH_KEEP_DB) return void process.stderr.write(`kept database ${name}\n`);
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      // `{name}…` (the service's own keys) and `{name:<queue>}…` (each queue's, under its own hash tag).
      const [next, keys] = await redis.scan(cursor, 'MATCH', `\\{${name}[}:]*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  const admin = new Client({ connectionString: maintenance.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(databaseUrl).pathname.slice(1)}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Limits lifted on every tier, so a bench measures trades, not limits: its clients trade back to back, and a
 * user with five completed trades moves to tier 1 by itself.
 */
const NO_TIER_LIMITS = Object.fromEntries(
  [0, 1, 2].flatMap((tier) => [
    [`TIER${tier}_OPEN_TRADES`, '1000000'],
    [`TIER${tier}_DAILY_USD`, '1000000000'],
  ]),
);

/**
 * The environment a bench starts the service with: its own database and queue prefix, loopback, rate limits
 * off, quiet logs, cheap password hashing (users are registered before any clock starts), no tier limits;
 * then the bench's own settings.
 */
function serviceEnv(databaseUrl, port, overrides = {}) {
  return {
    ...process.env,
    NODE_ENV: 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl.toString(),
    QUEUE_PREFIX: `{${new URL(databaseUrl).pathname.slice(1)}}`,
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    ARGON2_MEMORY_KIB: '4096',
    ARGON2_TIME_COST: '1',
    ...NO_TIER_LIMITS,
    ...overrides,
  };
}

/**
 * The typed client (clients/typescript) at `baseUrl`: `api` calls as no one (sign-up, log-in, the sandbox),
 * `as(token)` as the user of that token (one client per token, made once).
 */
function apiClients(baseUrl) {
  /** @type {Map<string, import('../clients/typescript').YuanbridgeClient>} */
  const users = new Map();
  /** @param {string} token */
  const as = (token) => {
    let client = users.get(token);
    if (!client) users.set(token, (client = createYuanbridgeClient({ baseUrl, token })));
    return client;
  };
  return { api: createYuanbridgeClient({ baseUrl }), as };
}
/** @typedef {ReturnType<typeof apiClients>} ApiClients */

/** Spawns `dist/src/main.js` with `env` and waits for /health/ready; returns the child and the start-up time. */
async function startService(env, baseUrl, timeoutMs = 30000) {
  const startedAt = process.hrtime.bigint();
  // BENCH_NODE_ARGS passes flags to the service's node, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'dist/src/main.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
    const ready = await fetch(`${baseUrl}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return { child, startupMs: Number((process.hrtime.bigint() - startedAt) / 1000000n) };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGTERM');
  throw new Error('service not ready in time');
}

async function stopService(child) {
  if (!child) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
}

/** A user with a WeChat wallet on file (and, for a counterparty, a PayPal payout email); `wechatId` is theirs. */
/**
 * @param {ApiClients} clients
 * @param {'traveler' | 'counterparty'} role
 * @param {string} label
 * @param {string} [paypalEmail]
 * @param {string} [wechatId]
 */
async function registerUser({ api, as }, role, label, paypalEmail, wechatId = `wx_${randomBytes(5).toString('hex')}`) {
  const email = `${label}-${randomBytes(4).toString('hex')}@example.com`;
  await ok(api.POST('/v1/auth/register', { body: { email, password: 'bench password 1', displayName: label, role } }));
  const token = (await ok(api.POST('/v1/auth/login', { body: { email, password: 'bench password 1' } }))).accessToken;
  await ok(as(token).PUT('/v1/me/wechat-wallet', { body: { wechatId } }));
  if (role === 'counterparty') {
    await ok(as(token).PUT('/v1/me/payout-account', { body: { method: 'paypal', paypalEmail: paypalEmail ?? email } }));
  }
  return token;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** p50/p95/p99 of a list of milliseconds, rounded to a tenth. */
function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => (sorted.length ? Number(percentile(sorted, p).toFixed(1)) : null);
  return { p50: at(50), p95: at(95), p99: at(99) };
}

/**
 * Polls `check` every `everyMs` until it is true; a bounded loop that throws after `timeoutMs`. Clients of a
 * whole-trade load poll every 100 ms, as an app would poll no faster: at 20 ms their reads were most of the load.
 */
async function until(check, timeoutMs = 60000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`a trade did not move within ${timeoutMs} ms`);
}

/** `--name value` from the command line as a number, or the fallback. */
function numberArg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

/** A traveler and a counterparty who trade with each other, with WeChat wallets funded at the mock. */
/** @param {ApiClients} clients */
async function tradingPair(clients, label) {
  const stamp = randomBytes(4).toString('hex');
  const travelerWallet = `wx_t${label}_${stamp}`;
  const counterpartyWallet = `wx_c${label}_${stamp}`;
  const traveler = await registerUser(clients, 'traveler', `t${label}`, undefined, travelerWallet);
  // Not the traveler's own address: a payer at PayPal that is the payout account would be a self-trade.
  const counterparty = await registerUser(clients, 'counterparty', `c${label}`, `payout-${label}-${stamp}@example.com`, counterpartyWallet);
  await ok(clients.api.POST('/sandbox/wechat/wallets', { body: { wechatId: travelerWallet, balanceCny: '0.00' } }));
  await ok(clients.api.POST('/sandbox/wechat/wallets', { body: { wechatId: counterpartyWallet, balanceCny: '100000000.00' } }));
  return { traveler, counterparty, travelerWallet, counterpartyWallet };
}

/**
 * One whole PayPal trade as its clients make it, every step over HTTP: the traveler's request, the
 * counterparty's accept, funding, the payer's approval at the mock, funded (by webhook or poll), the CNY sent
 * at the WeChat mock and reported, verification and settlement to `completed`. `timed(step, work)` measures steps.
 */
/**
 * @param {ApiClients} clients
 * @param {{ traveler: string, counterparty: string, travelerWallet: string, counterpartyWallet: string }} pair
 * @param {<T>(step: string, work: () => Promise<T>) => Promise<T>} [timed]
 */
async function wholeTrade({ api, as }, pair, timed = (_step, work) => work()) {
  const { travelerWallet, counterpartyWallet } = pair;
  const traveler = as(pair.traveler);
  const counterparty = as(pair.counterparty);
  const stateOf = async (id) => (await ok(traveler.GET('/v1/trades/{id}', { params: { path: { id } } }))).state;
  const request = await timed('request', () =>
    ok(
      traveler.POST('/v1/requests', { body: { amountCny: '100.00', price: { type: 'floating', premiumBps: 0 }, paymentMethod: 'paypal' } }),
    ),
  );
  const trade = await timed('accept', () =>
    ok(counterparty.POST('/v1/requests/{id}/accept', { params: { path: { id: request.id } }, body: {} })),
  );
  const path = { id: trade.id };
  const funding = await timed('funding', () => ok(traveler.POST('/v1/trades/{id}/funding', { params: { path }, body: {} })));
  const { orderId } = funding;
  if (!orderId) throw new Error(`trade ${trade.id} has no PayPal order (${funding.provider})`);
  await timed('approve', () => ok(api.POST('/sandbox/paypal/orders/{orderId}/approve', { params: { path: { orderId } }, body: {} })));
  await timed('funded', () => until(async () => (await stateOf(trade.id)) === 'funded'));
  const sent = await timed('transfer', () =>
    ok(
      api.POST('/sandbox/wechat/transfers', {
        body: { fromWechatId: counterpartyWallet, toWechatId: travelerWallet, amountCny: '100.00' },
      }),
    ),
  );
  await timed('report', () =>
    ok(counterparty.POST('/v1/trades/{id}/payout', { params: { path }, body: { wechatTransferId: sent.transferId } })),
  );
  await timed('completed', () => until(async () => (await stateOf(trade.id)) === 'completed'));
  return trade.id;
}

module.exports = {
  NO_TIER_LIMITS,
  serviceEnv,
  freshDatabaseUrl,
  dropDatabase,
  apiClients,
  ok,
  startService,
  stopService,
  registerUser,
  percentile,
  percentiles,
  until,
  numberArg,
  tradingPair,
  wholeTrade,
};
