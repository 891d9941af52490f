// @ts-check
/*
 * Where a bench's work goes, per process, over a measured window: CPU of the API, worker and mock processes and of
 * the load client; CPU of the PostgreSQL backends connected to the service's database and to the mocks' (read from
 * /proc by backend pid); CPU and commands of the Redis servers (private ones the bench starts, so no other user
 * of the machine is counted); commits per database (pg_stat_database); and the statements and transactions each
 * process sent, counted in the process by bench/count-statements.js.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Redis } = require('ioredis');
const { Client } = require('pg');

const TICK_MS = 10; // getconf CLK_TCK = 100 on Linux
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A process's user + system CPU so far, in ms; null once it is gone. */
function cpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are the 14th and 15th fields of the whole line: 12th and 13th after the command.
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return null;
  }
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return port;
}

/** A Redis server of the bench's own, in memory only: its CPU and its commands are the bench's alone. */
async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10000;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined); // not up yet: asked again below
    const up = await redis.connect().then(
      () => redis.ping().then(() => true),
      () => false,
    );
    redis.disconnect();
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
    await sleep(50);
  }
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
  return { url, pid: child.pid, stop };
}

async function redisInfo(url) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const cpu = await redis.info('cpu');
    const stats = await redis.info('commandstats');
    const field = (name) => Number(cpu.match(new RegExp(`${name}:([\\d.]+)`))?.[1] ?? 0);
    /** @type {Record<string, number>} */
    const commands = {};
    for (const [, name, calls] of stats.matchAll(/cmdstat_([\w|-]+):calls=(\d+)/g)) commands[name] = Number(calls);
    return { cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1000, commands };
  } finally {
    redis.disconnect();
  }
}

/** The settings that make a started process count its statements (see bench/count-statements.js). */
function statementCounting(directory) {
  const preload = path.join(__dirname, 'count-statements.js');
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${preload}`.trim(), BENCH_STATEMENTS_DIR: directory };
}

async function statementsOf(pids, directory) {
  const asked = Date.now();
  /** @type {Record<number, { statements: number, transactions: number, writeTransactions: number, byKind: Record<string, number> }>} */
  const counts = {};
  const deadline = Date.now() + 5000;
  for (const pid of pids) {
    const file = path.join(directory, `${pid}.json`);
    for (;;) {
      const read = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
      if (read && read.at >= asked) {
        counts[pid] = read;
        break;
      }
      if (Date.now() > deadline) throw new Error(`process ${pid} did not report its statements`);
      await sleep(20);
    }
  }
  return counts;
}

const minus = (after, before) => Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]));
const perUnit = (value, units, digits = 1) => Number((value / Math.max(1, units)).toFixed(digits));
const top = (counts, units, n = 12) =>
  Object.fromEntries(
    Object.entries(counts)
      .filter(([, calls]) => calls > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, calls]) => [name, perUnit(calls, units, 2)]),
  );

/**
 * @param {{ processes: Record<string, number>, databases: Record<string, string>, redis: Record<string, string>, statementsDir: string, baseDatabaseUrl: string, ignorePids?: number[] }} options
 *
 * A meter over named processes (`{ api: pid, worker: pid, mocks: pid }`), databases (`{ service: name, mocks: name }`)
 * and Redis servers (`{ service: url, mocks: url }`), leaving out the bench's own connections (`ignorePids`).
 * `start()` opens the window; `stop(units)` closes it and returns the costs per unit.
 */
function costMeter({ processes, databases, redis, statementsDir, baseDatabaseUrl, ignorePids = [] }) {
  const admin = new Client({ connectionString: (() => Object.assign(new URL(baseDatabaseUrl), { pathname: '/postgres' }).toString())() });
  /** @type {Map<number, { database: string, first: number, last: number }>} backends seen: CPU at first and last sight */
  const backends = new Map();
  let sampler;
  let before;

  const sampleBackends = async (baseline) => {
    const { rows } = await admin.query(`SELECT pid, datname FROM pg_stat_activity WHERE datname = ANY($1::text[])`, [
      Object.values(databases),
    ]);
    for (const row of rows) {
      if (ignorePids.includes(row.pid)) continue;
      const now = cpuMs(row.pid);
      if (now === null) continue;
      const known = backends.get(row.pid);
      if (known) known.last = now;
      // A backend first seen inside the window was started inside it: all of its CPU is the window's.
      else backends.set(row.pid, { database: row.datname, first: baseline ? now : 0, last: now });
    }
  };
  const commits = async () => {
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await admin.query(
      `SELECT datname, xact_commit::bigint AS commits FROM pg_stat_database WHERE datname = ANY($1::text[])`,
      [Object.values(databases)],
    );
    return Object.fromEntries(rows.map((row) => [row.datname, Number(row.commits)]));
  };
  const processCpu = () => Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuMs(pid) ?? 0]));
  const redisAll = async () =>
    Object.fromEntries(await Promise.all(Object.entries(redis).map(async ([name, url]) => [name, await redisInfo(url)])));
  const pids = () => Object.values(processes);

  return {
    async start() {
      await admin.connect();
      // Backends report their commits to pg_stat_database within a second of going idle.
      await sleep(1500);
      await sampleBackends(true);
      before = {
        at: performance.now(),
        client: process.cpuUsage(),
        processes: processCpu(),
        redis: await redisAll(),
        commits: await commits(),
        statements: await statementsOf(pids(), statementsDir),
      };
      sampler = setInterval(() => void sampleBackends(false).catch(() => undefined), 1000);
    },
    /** @param {number} units completed trades */
    async stop(units) {
      clearInterval(sampler);
      await sampleBackends(false);
      const client = process.cpuUsage(before.client);
      const processesAfter = processCpu();
      const redisAfter = await redisAll();
      const statements = await statementsOf(pids(), statementsDir);
      await sleep(1500);
      const commitsAfter = await commits();
      await admin.end();

      /** @type {Record<string, number>} CPU ms per unit */
      const cpu = {};
      for (const [name, ms] of Object.entries(minus(processesAfter, before.processes))) cpu[name] = perUnit(ms, units);
      for (const [side, database] of Object.entries(databases)) {
        let ms = 0;
        for (const backend of backends.values()) if (backend.database === database) ms += backend.last - backend.first;
        cpu[`postgres:${side}`] = perUnit(ms, units);
      }
      for (const [side, info] of Object.entries(redisAfter)) cpu[`redis:${side}`] = perUnit(info.cpuMs - before.redis[side].cpuMs, units);
      cpu.loadClient = perUnit((client.user + client.system) / 1000, units);
      // The platform: what the service costs its own cores, without the mocks (which real providers replace) and
      // without the load client.
      cpu.platform = Number(
        Object.entries(cpu)
          .filter(([name]) => ['api', 'worker', 'postgres:service', 'redis:service'].includes(name))
          .reduce((sum, [, ms]) => sum + ms, 0)
          .toFixed(1),
      );

      /** @type {Record<string, any>} */
      const sql = {};
      for (const [name, pid] of Object.entries(processes)) {
        const after = statements[pid];
        const earlier = before.statements[pid];
        const byKind = minus(after.byKind, earlier.byKind);
        sql[name] = {
          statements: perUnit(after.statements - earlier.statements, units),
          transactions: perUnit(after.transactions - earlier.transactions, units),
          writeTransactions: perUnit(after.writeTransactions - earlier.writeTransactions, units),
          // SELECT, INSERT, UPDATE, DELETE, WITH (a statement of several steps), and the transactions' own.
          byVerb: top(
            Object.entries(byKind).reduce((verbs, [kind, calls]) => {
              const verb = kind.split(' ')[0];
              verbs[verb] = (verbs[verb] ?? 0) + calls;
              return verbs;
            }, /** @type {Record<string, number>} */ ({})),
            units,
          ),
          topKinds: top(byKind, units),
        };
      }
      /** @type {Record<string, any>} */
      const redisCommands = {};
      for (const [side, info] of Object.entries(redisAfter)) {
        const calls = minus(info.commands, before.redis[side].commands);
        redisCommands[side] = {
          total: perUnit(
            Object.values(calls).reduce((a, b) => a + b, 0),
            units,
          ),
          top: top(calls, units, 8),
        };
      }
      const commitDeltas = minus(commitsAfter, before.commits);
      return {
        windowSeconds: Number(((performance.now() - before.at) / 1000).toFixed(1)),
        loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
        cpuMsPerTrade: cpu,
        statementsPerTrade: sql,
        commitsPerTrade: Object.fromEntries(
          Object.entries(databases).map(([side, name]) => [side, perUnit(commitDeltas[name] ?? 0, units)]),
        ),
        redisCommandsPerTrade: redisCommands,
      };
    },
  };
}

module.exports = { costMeter, cpuMs, freePort, startRedis, statementCounting };
