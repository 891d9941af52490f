#!/usr/bin/env node
// @ts-check
/*
 * The hot endpoints under load, and how they grow with history. One service on its own database with
 * `offers` open offers; one real whole trade; then `historySmall` historical trades bulk-loaded (bench/history.js)
 * and every endpoint loaded with autocannon; then history grown to `historyLarge` and every endpoint loaded again.
 * A list or a reputation read must not slow down with history: the two sets of figures are printed side by side.
 * Each figure carries the CPU a request cost the service and its database's backends, which say whether a request got
 * dearer with history more steadily than req/s on a shared machine.
 * Usage: npm run build && node bench/endpoints.js [--seconds 10] [--offers 100000] [--makers 1000] [--small 10000] [--large 1000000] [--port 3905]
 */
const { randomBytes } = require('node:crypto');
const os = require('node:os');
const autocannon = require('autocannon');
const { Client } = require('pg');
const {
  apiClients,
  ok,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  registerUser,
  serviceEnv,
  startService,
  stopService,
  tradingPair,
  wholeTrade,
} = require('./harness');
const { cpuMs } = require('./costs');
const { seedHistory } = require('./history');
const { seedOffers } = require('./seed');

function load(options) {
  return new Promise((resolve, reject) => autocannon(options, (error, result) => (error ? reject(error) : resolve(result))));
}

function figures(result, cpu) {
  const per = (ms) => Number((ms / Math.max(1, result.requests.total)).toFixed(3));
  return {
    requestsPerSecond: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    // What a request costs the service and its database, which the machine's other load disturbs far less than req/s.
    cpuMsPerRequest: { service: per(cpu.service), postgres: per(cpu.postgres) },
    non2xx: result.non2xx,
    errors: result.errors,
    loadAverage: os.loadavg()[0],
  };
}

/**
 * CPU of the service process and of the PostgreSQL backends connected to its database (read from /proc, so
 * PostgreSQL must run on this machine), leaving out the bench's own connection; `stop()` gives the ms spent since.
 */
async function cpuWindow(db, databaseName, servicePid) {
  const backends = async () => {
    const { rows } = await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [databaseName]);
    return new Map(rows.map((row) => [row.pid, cpuMs(row.pid) ?? 0]));
  };
  const service = cpuMs(servicePid) ?? 0;
  const before = await backends();
  return {
    async stop() {
      let postgres = 0;
      // A backend the pool opened inside the window spent all of its CPU in it.
      for (const [pid, ms] of await backends()) postgres += ms - (before.get(pid) ?? 0);
      return { service: (cpuMs(servicePid) ?? 0) - service, postgres };
    },
  };
}

async function measured(db, databaseName, servicePid, options) {
  const window = await cpuWindow(db, databaseName, servicePid);
  const result = await load(options);
  return figures(result, await window.stop());
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

async function benchEndpoints({
  seconds = 10,
  connections = 50,
  offers = 100000,
  makers = 1000,
  historySmall = 10000,
  historyLarge = 1000000,
  acceptRate = 200,
  port = 3905,
} = {}) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_endpoints');
  const databaseName = databaseUrl.pathname.slice(1);
  const env = serviceEnv(databaseUrl, port, { PAYPAL_MOCK_PAYOUT_DELAY_MS: '50' });
  const db = new Client({ connectionString: databaseUrl.toString() });
  let child;
  try {
    const started = await startService(env, baseUrl);
    child = started.child;
    await db.connect();
    await seedOffers(env.DATABASE_URL, offers, { makers });

    // The traveler whose trades are listed and read.
    const pair = await tradingPair(http, 'reader');
    const travelerId = (await ok(http.as(pair.traveler).GET('/v1/me'))).id;
    const counterpartyId = (await ok(http.as(pair.counterparty).GET('/v1/me'))).id;
    // One trade through the whole path: the template that history copies.
    await wholeTrade(http, pair);

    const rounds = [];
    let loaded = 0;
    // A first, unrecorded round with the smaller history: measured twice with the same history, the first
    // round came out 5–45 % slower than the second (a service just started), which read as growth.
    let warming = true;
    for (const history of [historySmall, historySmall, historyLarge]) {
      await seedHistory(env.DATABASE_URL, {
        trades: history - loaded,
        userIds: { travelers: [travelerId], counterparties: [counterpartyId] },
      });
      loaded = history;
      // A million trades leave gigabytes of dirty pages: written out now rather than by a checkpoint in the
      // middle of the measurement (offers, which read no trade, came out 30 % slower before this).
      await db.query('CHECKPOINT');
      const tradeIds = (await db.query(`SELECT id FROM trades WHERE traveler_id = $1 ORDER BY random() LIMIT 1000`, [travelerId])).rows.map(
        (r) => r.id,
      );
      const bearer = (token) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
      const scenarios = {
        'GET /v1/offers?limit=20': { url: `${baseUrl}/v1/offers?limit=20`, headers: bearer(pair.traveler) },
        'GET /v1/trades/:id': {
          url: baseUrl,
          requests: [
            {
              method: 'GET',
              headers: bearer(pair.traveler),
              setupRequest: (request) => ({ ...request, path: `/v1/trades/${pick(tradeIds)}` }),
            },
          ],
        },
        'GET /v1/trades?limit=20': { url: `${baseUrl}/v1/trades?limit=20`, headers: bearer(pair.traveler) },
        'GET /v1/users/:id (reputation)': { url: `${baseUrl}/v1/users/${counterpartyId}`, headers: bearer(pair.traveler) },
      };
      const round = { historicalTrades: Number((await db.query(`SELECT count(*) FROM trades`)).rows[0].count), endpoints: {} };
      for (const [name, options] of Object.entries(scenarios)) {
        // Warm-up.
        await load({ ...options, connections, duration: Math.min(2, seconds / 2) });
        // The unrecorded round only warms up: half as long.
        round.endpoints[name] = await measured(db, databaseName, child.pid, {
          ...options,
          connections,
          duration: warming ? seconds / 2 : seconds,
        });
      }

      // Accept under contention: every accept of the round takes 100 CNY of one request, at a fixed rate. A
      // maker and racers of their own each round: the trades an earlier round opened would otherwise count
      // against their open-trade limits, which every accept reads.
      const maker = await registerUser(http, 'traveler', `maker${rounds.length}${warming ? 'w' : ''}`);
      const racers = [];
      for (let i = 0; i < 20; i += 1) {
        const label = `racer${rounds.length}${warming ? 'w' : ''}-${i}`;
        racers.push(await registerUser(http, 'counterparty', label, `${label}-${randomBytes(3).toString('hex')}@example.com`));
      }
      const request = await ok(
        http.as(maker).POST('/v1/requests', {
          body: {
            amountCny: String(100 * acceptRate * (seconds + 2)),
            minFillCny: '100',
            price: { type: 'floating', premiumBps: 0 },
            paymentMethod: 'bank_transfer',
          },
        }),
      );
      const accept = {
        url: baseUrl,
        overallRate: acceptRate,
        connections,
        duration: warming ? seconds / 2 : seconds,
        requests: [
          {
            method: 'POST',
            path: `/v1/requests/${request.id}/accept`,
            body: JSON.stringify({ amountCny: '100.00' }),
            setupRequest: (req) => ({ ...req, headers: bearer(pick(racers)) }),
          },
        ],
      };
      // autocannon's overallRate sends each second's share from every connection at the same tick: bursts, not a
      // rate. bench/race.js measures accepts with smooth arrivals, and one row's capacity; this tracks growth.
      round.endpoints[`POST /v1/requests/:id/accept at ${acceptRate}/s, bursty`] = await measured(db, databaseName, child.pid, accept);
      if (warming) warming = false;
      else rounds.push(round);
    }
    return { scenario: 'hot endpoints and growth', openOffers: offers, makers, connections, seconds, rounds };
  } finally {
    await db.end().catch(() => undefined);
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

module.exports = { benchEndpoints };

if (require.main === module) {
  benchEndpoints({
    seconds: numberArg('seconds', 10),
    offers: numberArg('offers', 100000),
    makers: numberArg('makers', 1000),
    historySmall: numberArg('small', 10000),
    historyLarge: numberArg('large', 1000000),
    port: numberArg('port', 3905),
  })
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch((error) => {
      process.stderr.write(`endpoints bench failed: ${error.stack ?? error}\n`);
      process.exit(1);
    });
}
