#!/usr/bin/env node
/*
 * Measures this machine's ceilings so the service's bench figures can be read as ratios to them:
 * - pgbenchCeiling: what PostgreSQL alone sustains (pgbench TPC-B on a throwaway database);
 * - fastifyPgCeiling: what a bare Fastify + pg server sustains for one indexed read per request.
 * Usage: node bench/ceilings.js [--quick]   (prints JSON; `--serve` is the internal child mode)
 * Every loop is bounded and every database it creates is dropped: the run ends by itself.
 */
const { execFile, fork } = require('node:child_process');
const { promisify } = require('node:util');
const autocannon = require('autocannon');
const { Client, Pool } = require('pg');
const { dropDatabase, freshDatabaseUrl } = require('./harness');

const run = promisify(execFile);

async function createDatabase(databaseUrl) {
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  const admin = new Client({ connectionString: maintenance.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${databaseUrl.pathname.slice(1)}"`);
  } finally {
    await admin.end();
  }
}

/** libpq arguments for the URL; parts it leaves out fall back to pgbench's own PG* environment handling. */
function pgArgs(databaseUrl) {
  const args = [];
  if (databaseUrl.hostname) args.push('-h', decodeURIComponent(databaseUrl.hostname));
  if (databaseUrl.port) args.push('-p', databaseUrl.port);
  if (databaseUrl.username) args.push('-U', decodeURIComponent(databaseUrl.username));
  args.push(decodeURIComponent(databaseUrl.pathname.slice(1)));
  const env = { ...process.env };
  if (databaseUrl.password) env.PGPASSWORD = decodeURIComponent(databaseUrl.password);
  return { args, env };
}

async function pgbenchCeiling({ scale = 8, clients = 8, seconds = 20 } = {}) {
  const databaseUrl = freshDatabaseUrl('yb_pgbench');
  await createDatabase(databaseUrl);
  try {
    const { args, env } = pgArgs(databaseUrl);
    // Timeouts bound each step even if the server stalls; initialisation at scale 8 takes seconds.
    await run('pgbench', ['-i', '-s', String(scale), '-q', ...args], { env, timeout: 300000 });
    const { stdout } = await run('pgbench', ['-c', String(clients), '-j', '2', '-T', String(seconds), '-M', 'prepared', ...args], {
      env,
      timeout: (seconds + 60) * 1000,
    });
    const tps = stdout.match(/tps = ([\d.]+) \(without initial connection time\)/);
    const latency = stdout.match(/latency average = ([\d.]+) ms/);
    if (!tps || !latency) throw new Error(`unexpected pgbench output:\n${stdout}`);
    return { tps: Math.round(Number(tps[1])), latencyAvgMs: Number(latency[1]), scale, clients, seconds };
  } finally {
    await dropDatabase(databaseUrl);
  }
}

/** Child mode: a bare Fastify server with one indexed read; reports its port to the parent over IPC. */
async function serve() {
  const fastify = require('fastify')({ logger: false });
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  fastify.get('/items/:id', async (request, reply) => {
    const { rows } = await pool.query('SELECT id, payload FROM items WHERE id = $1', [Number(request.params.id)]);
    return rows[0] ?? reply.code(404).send({ error: 'not found' });
  });
  // An orphaned server would outlive the run: exit as soon as the parent goes away.
  process.once('disconnect', () =>
    fastify
      .close()
      .then(() => pool.end())
      .finally(() => process.exit(0)),
  );
  await fastify.listen({ host: '127.0.0.1', port: 0 });
  process.send({ ready: true, port: fastify.server.address().port });
}

function startServer(databaseUrl, timeoutMs = 15000) {
  const child = fork(__filename, ['--serve'], {
    env: { ...process.env, DATABASE_URL: databaseUrl.toString() },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('fastify child not ready in time')), timeoutMs);
    const fail = (error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.once('exit', (code) => fail(new Error(`fastify child exited with ${code}`)));
    child.once('message', (message) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ child, port: message.port });
    });
  });
}

async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function load(options) {
  return new Promise((resolve, reject) => autocannon(options, (error, result) => (error ? reject(error) : resolve(result))));
}

async function fastifyPgCeiling({ connections = 50, seconds = 10 } = {}) {
  const databaseUrl = freshDatabaseUrl('yb_fastify');
  await createDatabase(databaseUrl);
  let child;
  try {
    const db = new Client({ connectionString: databaseUrl.toString() });
    await db.connect();
    try {
      await db.query('CREATE TABLE items (id integer PRIMARY KEY, payload text)');
      await db.query(`INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 100000) AS i`);
      await db.query('ANALYZE items');
    } finally {
      await db.end();
    }
    const started = await startServer(databaseUrl);
    child = started.child;
    // Random ids so each request reads a different row, as real traffic would, not one hot cached one.
    const options = {
      url: `http://127.0.0.1:${started.port}`,
      connections,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/items/${1 + Math.floor(Math.random() * 100000)}` }) }],
    };
    await load({ ...options, duration: 2 }); // warm-up: JIT, pool connections, buffer cache
    const result = await load({ ...options, duration: seconds });
    return {
      requestsPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
      connections,
      seconds,
      non2xx: result.non2xx,
    };
  } finally {
    await stopServer(child);
    await dropDatabase(databaseUrl);
  }
}

async function main() {
  const quick = process.argv.includes('--quick');
  // One after the other: each would otherwise steal the other's CPU on a small machine.
  const pgbench = await pgbenchCeiling(quick ? { seconds: 5 } : {});
  const fastifyPg = await fastifyPgCeiling(quick ? { seconds: 3 } : {});
  process.stdout.write(`${JSON.stringify({ pgbench, fastifyPg }, null, 2)}\n`);
}

if (require.main === module) {
  const entry = process.argv.includes('--serve') ? serve : main;
  entry().catch((error) => {
    process.stderr.write(`ceilings failed: ${error.stack ?? error}\n`);
    process.exit(1);
  });
}

module.exports = { pgbenchCeiling, fastifyPgCeiling };
