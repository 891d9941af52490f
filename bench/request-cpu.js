#!/usr/bin/env node
// @ts-check
/*
 * The service's own CPU per request on a few hot GETs: utime + stime of the service's process (from /proc)
 * over a fixed number of requests, so the figure does not depend on what else the shared machine runs.
 * One service on its own database with `offers` open offers from `makers` makers (bench/seed.js).
 * Usage: npm run build && node bench/request-cpu.js [--requests 20000] [--connections 50] [--offers 100000] [--makers 1000]
 */
const { readFileSync } = require('node:fs');
const autocannon = require('autocannon');
const {
  apiClients,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  ok,
  registerUser,
  serviceEnv,
  startService,
  stopService,
} = require('./harness');
const { seedOffers } = require('./seed');

const TICKS_PER_SECOND = 100;

/** utime + stime of `pid` in milliseconds (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function load(options) {
  return new Promise((resolve, reject) => autocannon(options, (error, result) => (error ? reject(error) : resolve(result))));
}

async function requestCpu({ requests = 20000, connections = 50, offers = 100000, makers = 1000, port = 3915 } = {}) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const databaseUrl = freshDatabaseUrl('yb_request_cpu');
  const env = serviceEnv(databaseUrl, port);
  let child;
  try {
    child = (await startService(env, baseUrl)).child;
    await seedOffers(env.DATABASE_URL, offers, { makers });
    const http = apiClients(baseUrl);
    const token = await registerUser(http, 'traveler', 'cpu');
    const userId = (await ok(http.as(token).GET('/v1/me'))).id;
    const headers = { authorization: `Bearer ${token}` };
    const scenarios = {
      'GET /health/live': { url: `${baseUrl}/health/live` },
      'GET /v1/me': { url: `${baseUrl}/v1/me`, headers },
      'GET /v1/offers?limit=20': { url: `${baseUrl}/v1/offers?limit=20`, headers },
      'GET /v1/users/:id': { url: `${baseUrl}/v1/users/${userId}`, headers },
    };
    const results = {};
    for (const [name, options] of Object.entries(scenarios)) {
      await load({ ...options, connections, amount: Math.ceil(requests / 4) });
      const before = cpuMs(/** @type {number} */ (child.pid));
      const result = await load({ ...options, connections, amount: requests });
      const used = cpuMs(/** @type {number} */ (child.pid)) - before;
      results[name] = {
        cpuMsPerRequest: Number((used / result.requests.total).toFixed(3)),
        requestsPerSecond: Math.round(result.requests.average),
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
      };
    }
    return results;
  } finally {
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

module.exports = { requestCpu };

if (require.main === module) {
  requestCpu({
    requests: numberArg('requests', 20000),
    connections: numberArg('connections', 50),
    offers: numberArg('offers', 100000),
    makers: numberArg('makers', 1000),
  })
    .then((results) => {
      console.table(results);
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
