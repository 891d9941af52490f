#!/usr/bin/env node
// @ts-check
/*
 * Accept latency under contention: 50 counterparties accept parts of one request at the same instant,
 * several rounds, against the built service (started here on port 3901 with its own database).
 * Prints p50/p99/max of the accept round trips and how many trades each round made.
 * Usage: npm run build && node bench/race.js [--rounds 5] [--racers 50]
 */
const { Client } = require('pg');
const {
  apiClients,
  dropDatabase,
  freshDatabaseUrl,
  ok,
  percentile,
  registerUser,
  serviceEnv,
  startService,
  stopService,
} = require('./harness');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const rounds = arg('rounds', 5);
const racers = arg('racers', 50);
const port = 3901;
const baseUrl = `http://127.0.0.1:${port}`;

const http = apiClients(baseUrl);

async function main() {
  const databaseUrl = freshDatabaseUrl('yb_race');
  const env = serviceEnv(databaseUrl, port);
  let child;
  try {
    ({ child } = await startService(env, baseUrl));
    const traveler = await registerUser(http, 'traveler', 'traveler');
    const db = new Client({ connectionString: databaseUrl.toString() });
    await db.connect();
    await db.query(`UPDATE users SET tier = 2 WHERE role = 'traveler'`);
    const counterparties = [];
    for (let i = 0; i < racers; i += 1) counterparties.push(await registerUser(http, 'counterparty', `racer${i}`));
    await db.query(`UPDATE users SET tier = 2 WHERE role = 'counterparty'`);
    const latencies = [];
    const made = [];
    for (let round = 0; round < rounds; round += 1) {
      const request = await ok(
        http.as(traveler).POST('/v1/requests', {
          body: {
            amountCny: String(100 * racers),
            minFillCny: '100',
            price: { type: 'floating', premiumBps: 0 },
            paymentMethod: 'bank_transfer',
          },
        }),
      );
      const results = await Promise.all(
        counterparties.map(async (token) => {
          const started = process.hrtime.bigint();
          const { response } = await http
            .as(token)
            .POST('/v1/requests/{id}/accept', { params: { path: { id: request.id } }, body: { amountCny: '100.00' } });
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          return response.status;
        }),
      );
      made.push(results.filter((s) => s === 201).length);
    }
    await db.end();
    latencies.sort((a, b) => a - b);
    process.stdout.write(
      `${JSON.stringify(
        {
          racers,
          rounds,
          tradesPerRound: made,
          acceptLatencyMs: {
            p50: percentile(latencies, 50).toFixed(1),
            p99: percentile(latencies, 99).toFixed(1),
            max: latencies[latencies.length - 1].toFixed(1),
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

main().catch((error) => {
  process.stderr.write(`race bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
