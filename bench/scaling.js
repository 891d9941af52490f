#!/usr/bin/env node
// @ts-check
/*
 * Per-unit costs for docs/SCALING.md, the figures that say where the next limit is when more processes are added:
 * - what one whole trade (PayPal funding, WeChat leg verified, payout) asks of the primary: its committed
 *   transactions (`pg_stat_database.xact_commit` of the bench's own database, reads included: each is a round trip
 *   that ends in a commit), beside pgbench TPC-B measured in the same run;
 * - what it asks of Redis: the commands naming the bench's keys, seen by MONITOR (BullMQ's scripts counted once,
 *   and the commands they run inside Redis counted apart);
 * - how long an accept holds its request's row: from the end of the request's `FOR UPDATE` to the end of the
 *   transaction's `COMMIT`, read from PostgreSQL's statement log (`log_min_duration_statement = 0`, set on the
 *   bench's database only). Accepts of one request cannot go faster than one over that time.
 * The background (sweeps, the outbox relay's polls, the workers' blocking reads) is measured idle for as long and
 * taken off. Needs to read the server's log file (`PG_LOG`, Debian's path by default) and the server local.
 * Usage: npm run build && node bench/scaling.js [--clients 8] [--trades 40] [--accepts 100]
 */
const { readFileSync, statSync } = require('node:fs');
const { createServer } = require('node:net');
const { Client } = require('pg');
const { Redis } = require('ioredis');
const { pgbenchCeiling } = require('./ceilings');
const {
  apiClients,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  ok,
  percentiles,
  registerUser,
  serviceEnv,
  startService,
  stopService,
  tradingPair,
  wholeTrade,
} = require('./harness');

const PG_LOG = process.env.PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log';
/** @returns {Promise<number>} */
const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
/**
 * The server log's bytes from `from` to `to` (its end by default), as text.
 * @param {number} from
 * @param {number} [to]
 */
const fullLog = (from, to) => readFileSync(PG_LOG).subarray(from, to).toString('utf8');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Commands that name the deployment's keys, from a MONITOR connection: `[top-level, inside scripts]`. */
function redisCounter(name) {
  const counts = { direct: 0, scripted: 0 };
  const tag = `{${name}`;
  /** @type {any} */
  let monitor;
  /** @type {Redis | undefined} */
  let client;
  return {
    counts,
    async start() {
      client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      monitor = await client.monitor();
      monitor.on('monitor', (_time, args, source) => {
        if (!args.some((arg) => typeof arg === 'string' && arg.includes(tag))) return;
        if (String(source).includes('lua')) counts.scripted += 1;
        else counts.direct += 1;
      });
    },
    snapshot: () => ({ ...counts }),
    stop: () => {
      monitor?.disconnect();
      client?.disconnect();
    },
  };
}

async function commits(db, name) {
  // A backend reports its counts when idle, at most every second (PostgreSQL 15): let the last ones arrive.
  await sleep(1500);
  const { rows } = await db.query(`SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = $1`, [name]);
  return Number(rows[0].n);
}

/** A logged statement: time, backend, database, duration, what ran. */
const HEAD =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \w+ \[(\d+)\] \S+@(\S+) LOG:\s+duration: ([\d.]+) ms\s+(statement|execute [^:]*|parse [^:]*|bind [^:]*): /;

/** The log's entries: a line with the prefix and the lines after it without one (a statement's SQL spans lines). */
function logEntries(log) {
  const entries = [];
  for (const text of log.split('\n')) {
    if (/^\d{4}-\d\d-\d\d /.test(text)) entries.push(text);
    else if (entries.length) entries[entries.length - 1] += `\n${text}`;
  }
  return entries;
}

/**
 * Transactions that wrote, logged from `from` to `to` (ms): each explicit transaction's `COMMIT`, and each statement
 * that writes outside one (autocommit). Reads outside a transaction (the clients' polls) are left out.
 */
function writeTransactions(log, name, from, to) {
  const inTransaction = new Set();
  let writes = 0;
  for (const entry of logEntries(log)) {
    const m = HEAD.exec(entry);
    if (!m || m[3] !== name || !(m[5] === 'statement' || m[5].startsWith('execute'))) continue;
    const at = Date.parse(`${m[1].replace(' ', 'T')}Z`);
    const [pid, sql] = [m[2], entry.slice(m[0].length)];
    const inWindow = at >= from && at < to;
    if (/^(BEGIN|START TRANSACTION)/i.test(sql)) inTransaction.add(pid);
    else if (/^(COMMIT|ROLLBACK)/i.test(sql)) {
      if (inTransaction.delete(pid) && /^COMMIT/i.test(sql) && inWindow) writes += 1;
    } else if (!inTransaction.has(pid) && inWindow && /\b(INSERT|UPDATE|DELETE)\b/i.test(sql)) writes += 1;
  }
  return writes;
}

/**
 * Lock-to-commit times of the transactions whose statement matching `lock` takes a lock held to their end, from the
 * log's entries: in all (ms), and what of it was the `COMMIT` itself (the WAL flush) and the statements' execution;
 * the rest is round trips and the service's own work between statements. A statement matching `single` outside a
 * transaction (autocommit) takes its lock and commits by itself: its section is its own logged duration (without
 * the commit's flush).
 */
function lockSections(log, name, lock, single) {
  /** @type {Map<string, { at: number, executing: number }>} */
  const open = new Map();
  /** Sessions inside an explicit transaction. */
  const inTransaction = new Set();
  /** Sections that were one autocommit statement: their commit's flush is not in the log. */
  let autocommitted = 0;
  /** @type {{ total: number[], commit: number[], executing: number[] }} */
  const sections = { total: [], commit: [], executing: [] };
  for (const entry of logEntries(log)) {
    const m = HEAD.exec(entry);
    if (!m || m[3] !== name) continue;
    const at = Date.parse(`${m[1].replace(' ', 'T')}Z`);
    const [pid, duration, kind] = [m[2], Number(m[4]), m[5]];
    const sql = entry.slice(m[0].length);
    const section = open.get(pid);
    if (!section) {
      if (!(kind === 'statement' || kind.startsWith('execute'))) continue;
      if (lock.test(sql)) open.set(pid, { at, executing: 0 });
      else if (!inTransaction.has(pid) && single?.test(sql)) {
        // A statement in autocommit is its own transaction: its lock lasts its execution, then the commit's flush
        // at the Sync that follows (not in the logged duration, so not counted here).
        sections.total.push(duration);
        sections.executing.push(duration);
        autocommitted += 1;
      }
      if (/^(BEGIN|START TRANSACTION)/i.test(sql)) inTransaction.add(pid);
      else if (/^(COMMIT|ROLLBACK)/i.test(sql)) inTransaction.delete(pid);
    } else if (/^COMMIT/i.test(sql)) {
      sections.total.push(at - section.at);
      sections.commit.push(duration);
      sections.executing.push(section.executing);
      open.delete(pid);
      inTransaction.delete(pid);
    } else if (/^ROLLBACK/i.test(sql)) {
      open.delete(pid);
      inTransaction.delete(pid);
    } else section.executing += duration;
  }
  const mean = (list) => Number((list.reduce((a, b) => a + b, 0) / Math.max(1, list.length)).toFixed(2));
  return {
    samples: sections.total.length,
    meanMs: mean(sections.total),
    ...percentiles(sections.total),
    commitMeanMs: mean(sections.commit),
    statementsMeanMs: mean(sections.executing),
    // Their hold is longer than these figures by their commit's WAL flush (another lock's commitMeanMs gives its scale).
    ...(autocommitted ? { autocommitSectionsWithoutTheirCommit: autocommitted } : {}),
  };
}

async function main() {
  const clients = numberArg('clients', 8);
  const trades = numberArg('trades', 40);
  const accepts = numberArg('accepts', 100);
  // A port nothing listens on now: other benches on this machine take fixed ones.
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_scaling');
  const name = databaseUrl.pathname.slice(1);
  const admin = new Client({ connectionString: Object.assign(new URL(databaseUrl), { pathname: '/postgres' }).toString() });
  await admin.connect();
  const pgbench = await pgbenchCeiling({ seconds: 15 });
  // Created here so the statement log is on before the service's first connection.
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.query(`ALTER DATABASE "${name}" SET log_min_duration_statement = 0`);
  const db = new Client({ connectionString: databaseUrl.toString() });
  const redis = redisCounter(name);
  let child;
  try {
    ({ child } = await startService(
      serviceEnv(databaseUrl, port, { PROVIDER_POLL_EVERY_MS: '1000', PAYPAL_MOCK_PAYOUT_DELAY_MS: '50', OUTBOX_POLL_INTERVAL_MS: '200' }),
      baseUrl,
      60000,
    ));
    await db.connect();
    const pairs = [];
    for (let i = 0; i < clients; i += 1) pairs.push(await tradingPair(http, String(i)));
    await Promise.all(pairs.map((pair) => wholeTrade(http, pair))); // warm-up, unmeasured
    await redis.start();
    const logFrom0 = statSync(PG_LOG).size;

    // Whole trades, `clients` at a time, then as long idle for the background.
    let started = 0;
    const before = { commits: await commits(db, name), redis: redis.snapshot(), at: Date.now() };
    await Promise.all(
      pairs.map(async (pair) => {
        while (started < trades) {
          started += 1;
          await wholeTrade(http, pair);
        }
      }),
    );
    const after = { commits: await commits(db, name), redis: redis.snapshot(), at: Date.now() };
    const busySeconds = (after.at - before.at) / 1000;
    await sleep(after.at - before.at);
    const idle = { commits: await commits(db, name), redis: redis.snapshot(), at: Date.now() };
    const idleSeconds = (idle.at - after.at) / 1000;
    const perTrade = (busy, quiet) => Number(((busy - (quiet * busySeconds) / idleSeconds) / trades).toFixed(1));

    // Accepts of one request, one after another: the lock's hold time without waiting in its queue.
    const logFrom = statSync(PG_LOG).size;
    const traveler = await registerUser(http, 'traveler', 'race-traveler');
    const request = await ok(
      http.as(traveler).POST('/v1/requests', {
        body: { amountCny: `${accepts * 100}.00`, minFillCny: '100.00', price: { type: 'fixed', rate: '7.2400' }, paymentMethod: 'paypal' },
      }),
    );
    const racers = [];
    for (let i = 0; i < accepts; i += 1) racers.push(await registerUser(http, 'counterparty', `racer${i}`));
    for (const token of racers) {
      await ok(http.as(token).POST('/v1/requests/{id}/accept', { params: { path: { id: request.id } }, body: { amountCny: '100.00' } }));
    }
    await sleep(500);
    const log = fullLog(logFrom);
    // The careful transaction's lock, or the one statement of a trade opened at once (TradeOpeningRepository).
    const accept = lockSections(
      log,
      name,
      /FROM exchange_requests r\b[\s\S]*FOR UPDATE OF r/,
      /^WITH reserved AS \(UPDATE exchange_requests/,
    );
    // Every event recorded is numbered in commit order under one advisory lock, by the fan-out job.
    const numbering = lockSections(fullLog(logFrom0), name, /pg_advisory_xact_lock\(hashtext\('events_stream_seq'\)\)/);
    const events = Number((await db.query(`SELECT count(*)::int AS n FROM events WHERE trade_id IS NOT NULL`)).rows[0].n);
    const tradesMade = Number((await db.query(`SELECT count(*)::int AS n FROM trades`)).rows[0].n);

    const commitsPerTrade = perTrade(after.commits - before.commits, idle.commits - after.commits);
    const tradeLog = fullLog(logFrom0, logFrom);
    const writesPerTrade = perTrade(
      writeTransactions(tradeLog, name, before.at, after.at),
      writeTransactions(tradeLog, name, after.at, idle.at),
    );
    const result = {
      pgbenchTps: pgbench.tps,
      trades,
      clients,
      busySeconds,
      commitsPerTrade,
      writeTransactionsPerTrade: writesPerTrade,
      tradesPerSecondThePrimaryAllowsCountingWrites: Math.round(pgbench.tps / writesPerTrade),
      grossCommitsPerTrade: Number(((after.commits - before.commits) / trades).toFixed(1)),
      backgroundCommitsPerSecond: Number(((idle.commits - after.commits) / idleSeconds).toFixed(1)),
      tradesPerSecondThePrimaryAllows: Math.round(pgbench.tps / commitsPerTrade),
      redisPerTrade: {
        direct: perTrade(after.redis.direct - before.redis.direct, idle.redis.direct - after.redis.direct),
        insideScripts: perTrade(after.redis.scripted - before.redis.scripted, idle.redis.scripted - after.redis.scripted),
      },
      redisBackgroundPerSecond: Number(((idle.redis.direct - after.redis.direct) / idleSeconds).toFixed(1)),
      acceptLock: accept,
      acceptsPerSecondOneRequestAllows: accept.meanMs > 0 ? Math.round(1000 / accept.meanMs) : null,
      tradeEventsPerTrade: Number((events / Math.max(1, tradesMade)).toFixed(1)),
      eventNumberingLock: numbering,
      eventsPerSecondNumberingAllows: numbering.meanMs > 0 ? Math.round(1000 / numbering.meanMs) : null,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    redis.stop();
    await db.end().catch(() => undefined);
    await stopService(child);
    await admin.end().catch(() => undefined);
    await dropDatabase(databaseUrl);
  }
}

main().catch((error) => {
  process.stderr.write(`scaling bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
