/* What every bench needs: start the built service on its own database, call it, stop it, drop the database. */
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { Client } = require('pg');

const baseDatabaseUrl = () => process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database URL next to DATABASE_URL's, named `<prefix>_<random>`; created by the service's preflight. */
function freshDatabaseUrl(prefix) {
  const url = new URL(baseDatabaseUrl());
  url.pathname = `/${prefix}_${randomBytes(4).toString('hex')}`;
  return url;
}

async function dropDatabase(databaseUrl) {
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  const admin = new Client({ connectionString: maintenance.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(databaseUrl).pathname.slice(1)}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** JSON over HTTP with an optional Bearer token (or extra headers). */
function apiClient(baseUrl) {
  return async function call(method, path, body, token, headers = {}) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json().catch(() => undefined) };
  };
}

/** Spawns `dist/src/main.js` with `env` and waits for /health/ready; returns the child and the start-up time. */
async function startService(env, baseUrl, timeoutMs = 30000) {
  const startedAt = process.hrtime.bigint();
  const child = spawn(process.execPath, ['dist/src/main.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
    const ready = await fetch(`${baseUrl}/health/ready`).then((r) => r.status === 200, () => false);
    if (ready) return { child, startupMs: Number((process.hrtime.bigint() - startedAt) / 1000000n) };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGTERM');
  throw new Error('service not ready in time');
}

async function stopService(child) {
  if (!child) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
}

/** Registers and logs in a user; a counterparty also gets a PayPal payout account. Returns the access token. */
/** A user with a WeChat wallet on file (and, for a counterparty, a PayPal payout email); `wechatId` is theirs. */
async function registerUser(call, role, label, paypalEmail, wechatId = `wx_${randomBytes(5).toString('hex')}`) {
  const email = `${label}-${randomBytes(4).toString('hex')}@example.com`;
  await call('POST', '/v1/auth/register', { email, password: 'bench password 1', displayName: label, role });
  const token = (await call('POST', '/v1/auth/login', { email, password: 'bench password 1' })).body.accessToken;
  await call('PUT', '/v1/me/wechat-wallet', { wechatId }, token);
  if (role === 'counterparty') {
    await call('PUT', '/v1/me/payout-account', { method: 'paypal', paypalEmail: paypalEmail ?? email }, token);
  }
  return token;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

module.exports = { freshDatabaseUrl, dropDatabase, apiClient, startService, stopService, registerUser, percentile };
