#!/usr/bin/env node
// @ts-check
/*
 * Whole trades per second, from request to `completed`, driven by concurrent simulated clients over HTTP with
 * everything real: PayPal funding at the mock (order, approval, authorization by webhook or poll), the RMB sent
 * at the WeChat mock and reported, verification with WeChat's signed API, settlement (capture, payout) through
 * the outbox and the jobs. The provider mocks run as their own process (`npm run start:sandbox`) with their own
 * database and Redis, as real providers are apart from us; each client follows its trades on `GET /v1/stream`.
 * Prints completed trades per second, latency percentiles of each step's call and of the whole trade, and per
 * completed trade: CPU ms by process (API, worker, mocks, the PostgreSQL backends of each database, each Redis,
 * the load client), statements and transactions each process sent, commits per database, Redis commands.
 * Usage: npm run build && node bench/trades.js [--clients 20] [--seconds 30] [--split] [--mocks-in-process] [--poll]
 *   --split runs one API process and one worker process instead of one process doing both;
 *   --mocks-in-process serves the mocks from the service's own process, with its database and Redis (as before);
 *   --poll has the clients read the trade every 100 ms instead of following its stream.
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');
const { costMeter, freePort, startRedis, statementCounting } = require('./costs');
const { followTrades } = require('./follow');
const {
  apiClients,
  busy,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  percentiles,
  serviceEnv,
  startSandbox,
  startService,
  stopService,
  tradingPair,
  until,
  wholeTrade,
} = require('./harness');

const STEPS = ['request', 'accept', 'funding', 'approve', 'funded', 'transfer', 'report', 'completed', 'trade'];

async function benchWholeTrades({ clients = 20, seconds = 30, split = false, mocksApart = true, follow = true, port = 0 } = {}) {
  // A port of its own unless given: another bench on the machine may hold a fixed one, and answer for ours.
  port ||= await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const databaseUrl = freshDatabaseUrl('yb_trades');
  const statementsDir = mkdtempSync(join(tmpdir(), 'yb-statements-'));
  const redis = await startRedis();
  const env = serviceEnv(databaseUrl, port, {
    REDIS_URL: redis.url,
    PROVIDER_POLL_EVERY_MS: '1000',
    PAYPAL_MOCK_PAYOUT_DELAY_MS: '50',
    OUTBOX_POLL_INTERVAL_MS: '200',
    ...statementCounting(statementsDir),
    ...(split ? { RUN_WORKERS: 'false' } : {}),
  });
  const db = new Client({ connectionString: databaseUrl.toString() });
  let child;
  let worker;
  let mocksRedis;
  let sandbox;
  const followers = [];
  try {
    if (mocksApart) {
      mocksRedis = await startRedis();
      sandbox = await startSandbox(
        { ...env, REDIS_URL: mocksRedis.url, RUN_WORKERS: 'true' },
        { port: await freePort(), serviceUrl: baseUrl },
      );
      Object.assign(env, sandbox.serviceSettings);
    }
    const http = apiClients(baseUrl, sandbox?.mocksUrl);
    ({ child } = await startService(env, baseUrl));
    if (split) {
      worker = spawn(process.execPath, ['dist/src/worker.js'], {
        env: { ...env, WORKER_METRICS_PORT: '0' },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      // The first reference rate comes from the worker's start-up: no trade before it.
      await until(async () => (await http.api.GET('/v1/rates/usd-cny')).data?.stale === false, 30000);
    }
    await db.connect();
    const pairs = [];
    for (let i = 0; i < clients; i += 1) {
      const pair = await tradingPair(http, String(i));
      if (follow) followers.push((pair.follower = await followTrades(baseUrl, pair.traveler)));
      pairs.push(pair);
    }
    // Every client trades, unmeasured, for a while first: a service just started serves far less at first
    // (measured on the endpoints: 5–45 % less in the first round than in a second with the same data).
    const warmUntil = Date.now() + Math.min(10, seconds / 3) * 1000;
    await Promise.all(
      pairs.map(async (pair) => {
        while (Date.now() < warmUntil) await wholeTrade(http, pair);
      }),
    );

    /** @type {Record<string, number[]>} */
    const samples = Object.fromEntries(STEPS.map((step) => [step, []]));
    const timed = async (step, work) => {
      const at = performance.now();
      const result = await work();
      samples[step].push(performance.now() - at);
      return result;
    };
    const meter = costMeter({
      processes: Object.fromEntries(
        Object.entries({ api: child, worker, mocks: sandbox?.child }).flatMap(([name, started]) =>
          started ? [[name, Number(started.pid)]] : [],
        ),
      ),
      databases: { service: databaseUrl.pathname.slice(1), ...(sandbox ? { mocks: sandbox.databaseUrl.pathname.slice(1) } : {}) },
      redis: { service: redis.url, ...(mocksRedis ? { mocks: mocksRedis.url } : {}) },
      statementsDir,
      baseDatabaseUrl: databaseUrl.toString(),
      ignorePids: [(await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid],
    });
    await meter.start();
    // A transaction id is assigned only to a transaction that writes (and to this query itself): the difference
    // counts the write transactions of the run on the whole server, other users of it included.
    const xid = async () => Number((await db.query(`SELECT pg_current_xact_id()::text::bigint AS xid`)).rows[0].xid);
    const xidBefore = await xid();
    const retriesBefore = busy.retries;
    const startedAt = performance.now();
    const stopAt = Date.now() + seconds * 1000;
    let completed = 0;
    await Promise.all(
      pairs.map(async (pair) => {
        while (Date.now() < stopAt) {
          await timed('trade', () => wholeTrade(http, pair, timed));
          completed += 1;
        }
      }),
    );
    const elapsed = (performance.now() - startedAt) / 1000;
    const writes = (await xid()) - xidBefore - 1;
    const costs = await meter.stop(completed);
    // The whole trade as the server saw it, from its first timeline event to `completed`: free of the clients'
    // waiting.
    const serverSide = (
      await db.query(
        `SELECT extract(epoch FROM max(at) - min(at)) * 1000 AS ms FROM trade_events
          GROUP BY trade_id HAVING bool_or(to_state = 'completed') AND min(at) >= to_timestamp($1::double precision / 1000)`,
        [Date.now() - (performance.now() - startedAt)],
      )
    ).rows.map((row) => Number(row.ms));
    // The service's jobs by name, from the outbox rows written while measuring (work the sweeps add straight to
    // BullMQ, such as the jobs of nearing deadlines, is not among them: it shows in the Redis commands).
    const jobs = (
      await db.query(
        `SELECT job_name, count(*)::int AS n FROM outbox WHERE created_at >= to_timestamp($1::double precision / 1000)
          GROUP BY job_name ORDER BY job_name`,
        [Date.now() - (performance.now() - startedAt)],
      )
    ).rows;
    const outboxJobsPerTrade = Object.fromEntries(jobs.map((row) => [row.job_name, Number((row.n / Math.max(1, completed)).toFixed(2))]));
    const processes = split ? 'one API and one worker process' : 'API and workers in one process';
    return {
      scenario: `whole trades, ${processes}, mocks ${sandbox ? 'in their own process' : 'in the service'}`,
      clients,
      follow: follow ? 'stream' : 'poll every 100 ms',
      seconds: Number(elapsed.toFixed(1)),
      completedTrades: completed,
      tradesPerSecond: Number((completed / elapsed).toFixed(2)),
      writeTransactionsPerSecond: Math.round(writes / elapsed),
      // From transaction ids: every database on the server (the mocks' too, and anyone else's).
      writeTransactionsPerTrade: Number((writes / Math.max(1, completed)).toFixed(1)),
      // Reads of a trade made while its awaited state had not come by the stream (counted since the clients began).
      pollsPerTrade: Number((followers.reduce((n, f) => n + f.polls(), 0) / Math.max(1, completed)).toFixed(2)),
      busyRetriesPerTrade: Number(((busy.retries - retriesBefore) / Math.max(1, completed)).toFixed(2)),
      streamEventsPerTrade: Number((followers.reduce((n, f) => n + f.events(), 0) / Math.max(1, completed)).toFixed(2)),
      ...costs,
      outboxJobsPerTrade,
      latencyMs: Object.fromEntries(STEPS.map((step) => [step, percentiles(samples[step])])),
      serverSideTradeMs: percentiles(serverSide),
    };
  } finally {
    for (const follower of followers) follower.close();
    await db.end().catch(() => undefined);
    if (worker) await stopService(worker);
    await stopService(child);
    if (sandbox) await stopService(sandbox.child);
    await dropDatabase(databaseUrl);
    if (sandbox) await dropDatabase(sandbox.databaseUrl);
    await redis.stop();
    await mocksRedis?.stop();
    rmSync(statementsDir, { recursive: true, force: true });
  }
}

module.exports = { benchWholeTrades };

if (require.main === module) {
  benchWholeTrades({
    clients: numberArg('clients', 20),
    seconds: numberArg('seconds', 30),
    split: process.argv.includes('--split'),
    mocksApart: !process.argv.includes('--mocks-in-process'),
    follow: !process.argv.includes('--poll'),
  })
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch((error) => {
      process.stderr.write(`trades bench failed: ${error.stack ?? error}\n`);
      process.exit(1);
    });
}
