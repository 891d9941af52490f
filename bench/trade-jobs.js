#!/usr/bin/env node
// @ts-check
/*
 * The jobs one whole PayPal trade queues, and what each provider job found when it ran. Runs the service (API,
 * workers and mocks in one process) on its own database and queue prefix, makes one unmeasured whole trade, then
 * `--trades` more, waits until the outbox holds nothing unpublished and `--settle-ms` for jobs in flight, and
 * prints per trade: the outbox rows by queue and job name (the mocks' own apart), the provider events received by
 * type, and the outcomes the service's funding, settlement and verification jobs returned (read from BullMQ).
 * Usage: npm run build && node bench/trade-jobs.js [--trades 3] [--settle-ms 3000]
 */
const { Client } = require('pg');
const { Queue } = require('bullmq');
const {
  apiClients,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  serviceEnv,
  startService,
  stopService,
  tradingPair,
  wholeTrade,
} = require('./harness');

/** A queue's BullMQ prefix under a deployment's (`{db}` and `funding` give `{db:funding}`), as `queue-keys.ts` builds it. */
const queuePrefix = (deployment, queue) => `${deployment.slice(0, -1)}:${queue}}`;

async function main() {
  const trades = numberArg('trades', 3);
  const settleMs = numberArg('settle-ms', 3000);
  const port = numberArg('port', 3918);
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_trade_jobs');
  const env = serviceEnv(databaseUrl, port, { PAYPAL_MOCK_PAYOUT_DELAY_MS: '50' });
  const db = new Client({ connectionString: databaseUrl.toString() });
  const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
  const queues = [];
  let child;
  try {
    ({ child } = await startService(env, baseUrl));
    await db.connect();
    const pair = await tradingPair(http, 'j');
    const quiet = async () => {
      for (let i = 0; i < 300; i += 1) {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
        if (rows[0].n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    };
    await wholeTrade(http, pair);
    await quiet();
    const { rows: mark } = await db.query(`SELECT max(id) AS outbox, now() AS at FROM outbox`);
    const ids = [];
    for (let i = 0; i < trades; i += 1) ids.push(await wholeTrade(http, pair));
    await quiet();
    const { rows: jobs } = await db.query(
      `SELECT queue, job_name, job_id FROM outbox
        WHERE id > $1 AND (payload->>'tradeId' = ANY($2) OR queue LIKE 'sandbox-%' OR queue = 'events')`,
      [mark[0].outbox, ids],
    );
    const { rows: events } = await db.query(
      `SELECT provider, event_type, count(*)::int AS n FROM provider_events WHERE received_at > $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [mark[0].at],
    );
    const byName = new Map();
    for (const job of jobs) {
      const name = `${job.queue.startsWith('sandbox-') ? 'mocks: ' : ''}${job.queue} ${job.job_name}`;
      byName.set(name, (byName.get(name) ?? 0) + 1);
    }
    const service = jobs.filter((job) => !job.queue.startsWith('sandbox-'));
    console.log(
      `${trades} trades; outbox rows a trade: ${(service.length / trades).toFixed(2)} (the mocks': ${((jobs.length - service.length) / trades).toFixed(2)})`,
    );
    for (const [name, n] of [...byName.entries()].sort()) console.log(`  ${name}: ${(n / trades).toFixed(2)}`);
    console.log('provider events received a trade:');
    for (const e of events) console.log(`  ${e.provider} ${e.event_type}: ${(e.n / trades).toFixed(2)}`);
    // What each provider job found: its return value's outcome, or where it stands if it has none.
    const outcomes = new Map();
    for (const name of ['funding', 'settlement', 'verification']) {
      const queue = new Queue(name, { connection, prefix: queuePrefix(env.QUEUE_PREFIX, name) });
      queues.push(queue);
      for (const job of service.filter((j) => j.queue === name)) {
        const found = await queue.getJob(job.job_id);
        const outcome = found ? (found.returnvalue?.outcome ?? (await found.getState())) : 'gone';
        const cause = job.job_id
          .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, '<trade>')
          .replace(/WH-[A-Z0-9-]+|[0-9a-f]{32}/, '<event>');
        const key = `${name} ${job.job_name} ${cause}: ${outcome}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
    }
    // An event's fan-out row stands for a job only when its writer could not fan the event out after commit.
    const fanOuts = service.filter((job) => job.queue === 'events');
    if (fanOuts.length > 0) {
      const events = new Queue('events', { connection, prefix: queuePrefix(env.QUEUE_PREFIX, 'events') });
      queues.push(events);
      let held = 0;
      for (const job of fanOuts) if (await events.getJob(job.job_id)) held += 1;
      console.log(`fan-out-event jobs BullMQ held a trade: ${(held / trades).toFixed(2)} (the other fan-out rows fanned out by their writer)`);
    }
    console.log('provider jobs by cause and outcome, a trade:');
    for (const [key, n] of [...outcomes.entries()].sort()) console.log(`  ${key}: ${(n / trades).toFixed(2)}`);
  } finally {
    for (const queue of queues) await queue.close();
    await db.end().catch(() => undefined);
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
