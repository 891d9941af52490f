#!/usr/bin/env node
/*
 * Benchmarks the built service end to end over loopback, with its own database and queue prefix.
 * Usage: npm run bench [-- --duration 10 --connections 50 --scenario offers --offers 100000 --rate-limits on]
 * It starts `dist/src/main.js`, measures the start-up time (spawn → /health/ready 200), then
 * drives each scenario with autocannon and prints requests per second and latency percentiles.
 * Every loop is bounded: the run ends by itself.
 */
const { randomBytes } = require('node:crypto');
const autocannon = require('autocannon');
const { apiClient, dropDatabase, freshDatabaseUrl, startService, stopService } = require('./harness');
const { seedOffers } = require('./seed');

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((pair) => pair.trim().split(/\s+/)),
);
const durationSeconds = Number(args.duration ?? 10);
const connections = Number(args.connections ?? 50);
const port = Number(args.port ?? 3900);
const baseUrl = `http://127.0.0.1:${port}`;

const call = apiClient(baseUrl);

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ duration: durationSeconds, connections, ...options }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

function summary(name, result) {
  return {
    scenario: name,
    connections,
    durationSeconds,
    requestsPerSecond: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function main() {
  const databaseUrl = freshDatabaseUrl('yb_bench');
  const env = {
    ...process.env,
    NODE_ENV: 'production' === process.env.NODE_ENV ? 'production' : 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl.toString(),
    QUEUE_PREFIX: `{ybbench_${randomBytes(3).toString('hex')}}`,
    // Off by default so the figures are the service's own; `--rate-limits on` measures the limiter's cost too.
    RATE_LIMIT_ENABLED: args['rate-limits'] === 'on' ? 'true' : 'false',
    RATE_LIMIT_PER_IP: '1000000000',
    RATE_LIMIT_PER_USER: '1000000000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  const results = [];
  let child;
  try {
    const started = await startService(env, baseUrl);
    child = started.child;
    const startupMs = started.startupMs;
    results.push({ scenario: 'startup (spawn → /health/ready 200, empty database)', startupMs });

    const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
    const password = 'bench password 123';
    await call('POST', '/v1/auth/register', { email, password, displayName: 'Bench', role: 'traveler' });
    const { body: session } = await call('POST', '/v1/auth/login', { email, password });
    const { body: apiKey } = await call('POST', '/v1/me/api-keys', { name: 'bench' }, session.accessToken);

    const offersSeeded = await seedOffers(env.DATABASE_URL, Number(args.offers ?? 100000));
    results.push({ scenario: 'seed', openOffers: offersSeeded });

    const scenarios = {
      offers: { url: `${baseUrl}/v1/offers?limit=20`, headers: { authorization: `Bearer ${session.accessToken}` } },
      'offers-filtered': {
        url: `${baseUrl}/v1/offers?limit=20&paymentMethod=bank_transfer&amountCny=3000&minRate=7.2000`,
        headers: { authorization: `Bearer ${session.accessToken}` },
      },
      me: { url: `${baseUrl}/v1/me`, headers: { authorization: `Bearer ${session.accessToken}` } },
      'me-api-key': { url: `${baseUrl}/v1/me`, headers: { 'x-api-key': apiKey.key } },
      'health-live': { url: `${baseUrl}/health/live` },
    };
    const selected = args.scenario ? [args.scenario] : Object.keys(scenarios);
    for (const name of selected) {
      await run({ ...scenarios[name], duration: 2 }); // warm-up
      results.push(summary(`GET ${name}`, await run(scenarios[name])));
    }
  } finally {
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
