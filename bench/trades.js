#!/usr/bin/env node
// @ts-check
/*
 * Whole trades per second, from request to `completed`, driven by concurrent simulated clients over HTTP with
 * everything real: PayPal funding at the mock (order, approval, authorization by webhook or poll), the RMB sent
 * at the WeChat mock and reported, verification with WeChat's signed API, settlement (capture, payout) through
 * the outbox and the jobs. Prints completed trades per second, latency percentiles of each step's call and of
 * the whole trade, and the write transactions they took.
 * Usage: npm run build && node bench/trades.js [--clients 20] [--seconds 30] [--split]
 *   --split runs one API process and one worker process instead of one process doing both.
 */
const { spawn } = require('node:child_process');
const { Client } = require('pg');
const {
  apiClients,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  percentiles,
  serviceEnv,
  startService,
  stopService,
  tradingPair,
  until,
  wholeTrade,
} = require('./harness');

const STEPS = ['request', 'accept', 'funding', 'approve', 'funded', 'transfer', 'report', 'completed', 'trade'];

async function benchWholeTrades({ clients = 20, seconds = 30, split = false, port = 3904 } = {}) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_trades');
  const env = serviceEnv(databaseUrl, port, {
    PROVIDER_POLL_EVERY_MS: '1000',
    PAYPAL_MOCK_PAYOUT_DELAY_MS: '50',
    OUTBOX_POLL_INTERVAL_MS: '200',
    ...(split ? { RUN_WORKERS: 'false' } : {}),
  });
  const db = new Client({ connectionString: databaseUrl.toString() });
  let child;
  let worker;
  try {
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
    for (let i = 0; i < clients; i += 1) pairs.push(await tradingPair(http, String(i)));
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
    // A transaction id is assigned only to a transaction that writes (and to this query itself): the
    // difference counts the write transactions of the run on an otherwise idle server.
    const xid = async () => Number((await db.query(`SELECT pg_current_xact_id()::text::bigint AS xid`)).rows[0].xid);
    const xidBefore = await xid();
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
    // The whole trade as the server saw it, from its first timeline event to `completed`: free of the clients'
    // polling interval.
    const serverSide = (
      await db.query(
        `SELECT extract(epoch FROM max(at) - min(at)) * 1000 AS ms FROM trade_events
          GROUP BY trade_id HAVING bool_or(to_state = 'completed') AND min(at) >= to_timestamp($1::double precision / 1000)`,
        [Date.now() - (performance.now() - startedAt)],
      )
    ).rows.map((row) => Number(row.ms));
    return {
      scenario: `whole trades, ${split ? 'one API and one worker process' : 'API and workers in one process'}`,
      clients,
      seconds: Number(elapsed.toFixed(1)),
      completedTrades: completed,
      tradesPerSecond: Number((completed / elapsed).toFixed(2)),
      writeTransactionsPerSecond: Math.round(writes / elapsed),
      writeTransactionsPerTrade: Number((writes / Math.max(1, completed)).toFixed(1)),
      latencyMs: Object.fromEntries(STEPS.map((step) => [step, percentiles(samples[step])])),
      serverSideTradeMs: percentiles(serverSide),
    };
  } finally {
    await db.end().catch(() => undefined);
    if (worker) await stopService(worker);
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

module.exports = { benchWholeTrades };

if (require.main === module) {
  benchWholeTrades({ clients: numberArg('clients', 20), seconds: numberArg('seconds', 30), split: process.argv.includes('--split') })
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch((error) => {
      process.stderr.write(`trades bench failed: ${error.stack ?? error}\n`);
      process.exit(1);
    });
}
