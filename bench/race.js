#!/usr/bin/env node
// @ts-check
/*
 * Accepts of one request, the race guard's queue, three ways, against the built service (its own database):
 *   smooth: open-loop arrivals, one accept every 1/rate seconds whatever the replies, each latency counted from
 *     its scheduled send time (a late send counts against the service: no coordinated omission);
 *   bursty: autocannon's `overallRate` at the same rate (it fires every connection's share at the same tick each
 *     second, so it measures bursts, not a rate), the figure earlier runs reported;
 *   capacity: a closed loop, `racers` accepts in flight at all times on one request row: accepts served a second,
 *     beside the same loop with each racer on a request of its own (no row to queue on: the ceiling of one
 *     process), and their ratio, what the race guard costs; while it runs, how often the lock's holder idles in
 *     its transaction (sampled from pg_stat_activity);
 *   smooth again at a quarter of the rate, what a shared machine can serve.
 * Every accept takes 100 CNY of a request big enough for the whole phase, from one of 20 counterparties, so
 * each may accept (tier limits are lifted by the harness). The service's CPU per accept comes from /proc.
 * Usage: npm run build && node bench/race.js [--rate 200] [--seconds 10] [--racers 64] [--port 3901]
 */
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const autocannon = require('autocannon');
const { Client } = require('pg');
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
} = require('./harness');

const ACCEPT_BODY = JSON.stringify({ amountCny: '100.00' });

/** CPU time (user + system) of a process so far, in ms, from /proc; null where there is no /proc. */
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** One accept through a keep-alive agent: resolves with the status when the whole response has arrived. */
function accept(agent, port, requestId, token) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/v1/requests/${requestId}/accept`,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(ACCEPT_BODY),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(ACCEPT_BODY);
  });
}

/**
 * Samples the service's database sessions every `everyMs` while `work` runs: of the samples where accepts queue on
 * a lock (a statement of theirs on the request's or the parties' rows waits), the share where a session they wait
 * for idles inside its transaction (the lock holder waiting for the service to send
 * its next statement or its COMMIT). What the race guard's lock is held for, beyond PostgreSQL's own work.
 */
async function sampleSessions(databaseUrl, work, everyMs = 2) {
  const db = new Client({ connectionString: databaseUrl.toString() });
  await db.connect();
  let running = true;
  let queued = 0;
  let holderIdle = 0;
  /** What an idle holder last ran, and how often it was found so. */
  const lastStatements = new Map();
  const sampling = (async () => {
    while (running) {
      const { rows } = await db.query(
        `WITH waiting AS (SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                            AND (query LIKE '%exchange_requests%' OR query LIKE '%FOR UPDATE OF u%'))
         SELECT (SELECT count(*) FROM waiting)::int AS waiting,
                (SELECT min(left(regexp_replace(h.query, '\\s+', ' ', 'g'), 60)) FROM pg_stat_activity h
                  WHERE h.state = 'idle in transaction' AND h.pid IN (SELECT unnest(pg_blocking_pids(w.pid)) FROM waiting w)) AS idle_holder`,
      );
      if (rows[0].waiting > 0) {
        queued += 1;
        if (rows[0].idle_holder !== null) {
          holderIdle += 1;
          lastStatements.set(rows[0].idle_holder, (lastStatements.get(rows[0].idle_holder) ?? 0) + 1);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  try {
    const result = await work();
    return {
      ...result,
      lockQueueSamples: queued,
      holderIdleInTransactionShare: queued ? Number((holderIdle / queued).toFixed(3)) : null,
      idleHolderLastStatements: Object.fromEntries([...lastStatements].sort((a, b) => b[1] - a[1]).slice(0, 3)),
    };
  } finally {
    running = false;
    await sampling;
    await db.end();
  }
}

const tally = (statuses) => statuses.reduce((counts, s) => ({ ...counts, [s]: (counts[s] ?? 0) + 1 }), {});

/**
 * Open loop: the i-th accept is due at start + i/rate; a timer sends whatever is due, every millisecond, however
 * many are still waiting for replies. Latency = reply received − due time.
 */
async function smooth({ port, requestId, tokens, rate, seconds }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  const total = Math.round(rate * seconds);
  const latencies = [];
  const statuses = [];
  const pending = [];
  const start = performance.now() + 50;
  let sent = 0;
  let lateSendMs = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1000) / rate <= now) {
        const due = start + (sent * 1000) / rate;
        lateSendMs = Math.max(lateSendMs, now - due);
        const token = tokens[sent % tokens.length];
        pending.push(
          accept(agent, port, requestId, token).then((status) => {
            latencies.push(performance.now() - due);
            statuses.push(status);
          }),
        );
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve(undefined);
    };
    tick();
  });
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    offeredPerSecond: rate,
    accepts: total,
    servedPerSecond: Math.round((statuses.filter((s) => s === 201).length / elapsed) * 10) / 10,
    latencyMs: {
      ...percentiles(latencies),
      max: Number(Math.max(...latencies).toFixed(1)),
    },
    statuses: tally(statuses),
    latestSendMs: Number(lateSendMs.toFixed(1)),
  };
}

/** autocannon's `overallRate` over `connections`: what the endpoints bench reports, bursts at each second's tick. */
function bursty({ baseUrl, requestId, tokens, rate, seconds, connections }) {
  let next = 0;
  return new Promise((resolve, reject) =>
    autocannon(
      {
        url: baseUrl,
        overallRate: rate,
        connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: `/v1/requests/${requestId}/accept`,
            body: ACCEPT_BODY,
            setupRequest: (req) => ({
              ...req,
              headers: {
                authorization: `Bearer ${tokens[next++ % tokens.length]}`,
                'content-type': 'application/json',
              },
            }),
          },
        ],
      },
      (error, result) =>
        error
          ? reject(error)
          : resolve({
              offeredPerSecond: rate,
              servedPerSecond: Math.round(result.requests.average),
              latencyMs: {
                p50: result.latency.p50,
                p99: result.latency.p99,
                max: result.latency.max,
              },
              non2xx: result.non2xx,
            }),
    ),
  );
}

/**
 * Closed loop: `racers` accepts always in flight, each racer on `requestIds[racer % length]` (one id: all on one
 * request row); accepts served a second and their latency.
 */
async function capacity({ port, requestIds, tokens, racers, seconds }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: racers });
  const latencies = [];
  const statuses = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: racers }, async (_, racer) => {
      const requestId = requestIds[racer % requestIds.length];
      while (performance.now() < end) {
        const sentAt = performance.now();
        statuses.push(await accept(agent, port, requestId, tokens[n++ % tokens.length]));
        latencies.push(performance.now() - sentAt);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    racers,
    servedPerSecond: Math.round(statuses.filter((s) => s === 201).length / elapsed),
    latencyMs: percentiles(latencies),
    statuses: tally(statuses),
  };
}

/**
 * The three phases on one service, each on a request of its own holding 100 CNY for every accept it can make;
 * a warm-up at the smooth rate first (a service just started runs slower).
 */
async function benchRace({ rate = 200, seconds = 10, racers = 64, connections = 50, port = 3901 } = {}) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const clients = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_race');
  let child;
  try {
    ({ child } = await startService(serviceEnv(databaseUrl, port), baseUrl));
    const maker = await registerUser(clients, 'traveler', 'maker');
    const tokens = [];
    for (let i = 0; i < 20; i += 1) tokens.push(await registerUser(clients, 'counterparty', `racer${i}`));
    const request = async (accepts) =>
      (
        await ok(
          clients.as(maker).POST('/v1/requests', {
            body: {
              amountCny: String(100 * accepts),
              minFillCny: '100',
              price: { type: 'floating', premiumBps: 0 },
              paymentMethod: 'bank_transfer',
              expiresInMinutes: 60,
            },
          }),
        )
      ).id;
    const phase = async (name, accepts, run) => {
      const requestId = await request(accepts);
      const load = os.loadavg()[0];
      const cpuBefore = cpuMs(child.pid);
      const result = await run(requestId);
      const cpuAfter = cpuMs(child.pid);
      const answered = result.statuses ? Object.values(result.statuses).reduce((a, b) => a + b, 0) : result.servedPerSecond * seconds;
      process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${name} done\n`);
      return {
        ...result,
        serviceCpuMsPerAccept:
          cpuBefore === null || cpuAfter === null ? null : Number(((cpuAfter - cpuBefore) / (answered || 1)).toFixed(2)),
        loadAverageAtStart: Number(load.toFixed(2)),
      };
    };
    await phase('warm-up', rate * 3, (requestId) => smooth({ port, requestId, tokens, rate, seconds: 2 }));
    const result = {
      scenario: 'accepts of one request',
      rate,
      seconds,
      smooth: await phase('smooth', rate * seconds + 10, (requestId) => smooth({ port, requestId, tokens, rate, seconds })),
      bursty: await phase('bursty', rate * (seconds + 2), (requestId) =>
        bursty({ baseUrl, requestId, tokens, rate, seconds, connections }),
      ),
      capacity: await phase('capacity', 3000 * seconds, (requestId) =>
        sampleSessions(databaseUrl, () => capacity({ port, requestIds: [requestId], tokens, racers, seconds })),
      ),
      // At a quarter of the rate: arrivals this machine can serve when it is shared.
      smoothQuarter: await phase('smooth at a quarter', Math.ceil(rate / 4) * seconds + 10, (requestId) =>
        smooth({ port, requestId, tokens, rate: rate / 4, seconds }),
      ),
    };
    // The same closed loop with every racer on a request of its own: no row to queue on, so what one process
    // serves when the race guard costs nothing. One row's capacity as a ratio of it is the guard's own cost.
    const own = [];
    for (let i = 0; i < racers; i += 1) own.push(await request(Math.ceil((3000 * seconds) / racers)));
    result.ceilingWithoutRow = await phase('ceiling', 1, () => capacity({ port, requestIds: own, tokens, racers, seconds }));
    result.oneRowOfCeiling = Number((result.capacity.servedPerSecond / result.ceilingWithoutRow.servedPerSecond).toFixed(3));
    result.loadAverageAtEnd = Number(os.loadavg()[0].toFixed(2));
    return result;
  } finally {
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

module.exports = { benchRace };

if (require.main === module) {
  benchRace({
    rate: numberArg('rate', 200),
    seconds: numberArg('seconds', 10),
    racers: numberArg('racers', 64),
    port: numberArg('port', 3901),
  })
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch((error) => {
      process.stderr.write(`race bench failed: ${error.stack ?? error}\n`);
      process.exit(1);
    });
}
