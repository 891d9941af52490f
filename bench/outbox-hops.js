#!/usr/bin/env node
// @ts-check
/*
 * The outbox hops under load: how long work waits from its outbox row's insert to its job's start in a worker
 * (the service's `outbox_hop_seconds` histogram, read from /metrics before and after the load), and its first part,
 * the row's insert → its job in Redis (`outbox_publish_seconds`), while whole trades run; with the trades per
 * second, write transactions and commits per trade of the same run.
 * Usage: npm run build && node bench/outbox-hops.js [--clients 20] [--seconds 10]
 * Other benches can read the histogram around their own load: `outboxHopSnapshot(baseUrl)` before and after, then
 * `outboxHopPercentiles(before, after)`.
 */
const { Client } = require('pg');
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

/**
 * The hop histogram's cumulative bucket counts by queue (`outbox_hop_seconds`: row insert → job start), or another
 * outbox histogram's (`outbox_publish_seconds`: row insert → job in Redis, by queue and publisher as `queue:by`), as
 * the service's /metrics shows them now.
 * @param {string} baseUrl
 * @param {string} [metric]
 * @returns {Promise<Record<string, Record<string, number>>>} queue → `le` → count
 */
async function outboxHopSnapshot(baseUrl, metric = 'outbox_hop_seconds') {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  /** @type {Record<string, Record<string, number>>} */
  const byQueue = {};
  const line = new RegExp(`^${metric}_bucket\\{([^}]*)\\} (\\S+)$`);
  for (const row of text.split('\n')) {
    const match = line.exec(row);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    (byQueue[labels.by ? `${labels.queue}:${labels.by}` : labels.queue] ??= {})[labels.le] = Number(match[2]);
  }
  return byQueue;
}

/**
 * The p50 and p99 (ms, interpolated within the histogram's buckets) and count of the hops between two snapshots,
 * for all queues together and for each.
 * @param {Record<string, Record<string, number>>} before
 * @param {Record<string, Record<string, number>>} after
 */
function outboxHopPercentiles(before, after) {
  /** @param {Record<string, number>} counts cumulative counts by `le` */
  const summarize = (counts) => {
    const bounds = Object.keys(counts)
      .filter((le) => le !== '+Inf')
      .map(Number)
      .sort((a, b) => a - b);
    const total = counts['+Inf'] ?? 0;
    /** @param {number} p */
    const at = (p) => {
      if (total === 0) return null;
      const rank = (p / 100) * total;
      let lower = 0;
      let below = 0;
      for (const bound of bounds) {
        const cumulative = counts[String(bound)] ?? 0;
        if (cumulative >= rank) {
          const share = cumulative === below ? 1 : (rank - below) / (cumulative - below);
          return Number(((lower + share * (bound - lower)) * 1000).toFixed(1));
        }
        lower = bound;
        below = cumulative;
      }
      return Number((lower * 1000).toFixed(1)); // past the last bound: at least this
    };
    return { count: total, p50: at(50), p99: at(99) };
  };
  /** @type {Record<string, Record<string, number>>} */
  const delta = {};
  for (const [queue, counts] of Object.entries(after)) {
    delta[queue] = Object.fromEntries(Object.entries(counts).map(([le, n]) => [le, n - (before[queue]?.[le] ?? 0)]));
  }
  /** @type {Record<string, number>} */
  const all = {};
  for (const counts of Object.values(delta)) for (const [le, n] of Object.entries(counts)) all[le] = (all[le] ?? 0) + n;
  return {
    all: summarize(all),
    byQueue: Object.fromEntries(
      Object.entries(delta)
        .filter(([, counts]) => (counts['+Inf'] ?? 0) > 0)
        .map(([queue, counts]) => [queue, summarize(counts)]),
    ),
  };
}

/** @param {Client} db */
const commitsOf = async (db) =>
  Number((await db.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)).rows[0].xact_commit);

/**
 * Whole trades by `clients` concurrent clients for `seconds` (API and workers in one process), and the outbox hops
 * they made. Commits are PostgreSQL's own count (`pg_stat_database`), read after an idle pause at the start and
 * after the service stopped at the end (a backend reports them at most once a second, and when idle after 10 s):
 * they include the clients' polling reads, so compare them between runs of this driver only.
 * @param {{ clients?: number, seconds?: number, port?: number }} [options]
 */
async function benchOutboxHops({ clients = 20, seconds = 10, port = 3907 } = {}) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_hops');
  const env = serviceEnv(databaseUrl, port, {
    PROVIDER_POLL_EVERY_MS: '1000',
    PAYPAL_MOCK_PAYOUT_DELAY_MS: '50',
    OUTBOX_POLL_INTERVAL_MS: '200',
  });
  const db = new Client({ connectionString: databaseUrl.toString() });
  let child;
  try {
    ({ child } = await startService(env, baseUrl));
    await db.connect();
    const pairs = [];
    for (let i = 0; i < clients; i += 1) pairs.push(await tradingPair(http, String(i)));
    const warmUntil = Date.now() + Math.min(10, seconds / 3) * 1000;
    await Promise.all(
      pairs.map(async (pair) => {
        while (Date.now() < warmUntil) await wholeTrade(http, pair);
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 11000));
    const xid = async () => Number((await db.query(`SELECT pg_current_xact_id()::text::bigint AS xid`)).rows[0].xid);
    const commitsBefore = await commitsOf(db);
    const xidBefore = await xid();
    const hopsBefore = await outboxHopSnapshot(baseUrl);
    const publishesBefore = await outboxHopSnapshot(baseUrl, 'outbox_publish_seconds');
    const startedAt = performance.now();
    const stopAt = Date.now() + seconds * 1000;
    let completed = 0;
    await Promise.all(
      pairs.map(async (pair) => {
        while (Date.now() < stopAt) {
          await wholeTrade(http, pair);
          completed += 1;
        }
      }),
    );
    const elapsed = (performance.now() - startedAt) / 1000;
    const hops = outboxHopPercentiles(hopsBefore, await outboxHopSnapshot(baseUrl));
    const publishes = outboxHopPercentiles(publishesBefore, await outboxHopSnapshot(baseUrl, 'outbox_publish_seconds'));
    const writes = (await xid()) - xidBefore - 1;
    await stopService(child);
    child = undefined;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const commits = (await commitsOf(db)) - commitsBefore;
    return {
      clients,
      seconds: Number(elapsed.toFixed(1)),
      completedTrades: completed,
      tradesPerSecond: Number((completed / elapsed).toFixed(2)),
      writeTransactionsPerTrade: Number((writes / Math.max(1, completed)).toFixed(1)),
      commitsPerTrade: Number((commits / Math.max(1, completed)).toFixed(1)),
      hopsPerTrade: Number((hops.all.count / Math.max(1, completed)).toFixed(1)),
      hopMs: hops,
      publishMs: publishes,
    };
  } finally {
    await db.end().catch(() => undefined);
    if (child) await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

module.exports = { benchOutboxHops, outboxHopPercentiles, outboxHopSnapshot };

if (require.main === module) {
  benchOutboxHops({ clients: numberArg('clients', 20), seconds: numberArg('seconds', 10) }).then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
