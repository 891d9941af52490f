#!/usr/bin/env node
// @ts-check
/*
 * The statements, transactions and commits one whole trade costs on the server, grouped by where they come from.
 * Runs the service on its own database with `log_statement = 'all'` set for that database only, makes one
 * unmeasured whole trade, then one between two markers, waits until the outbox holds nothing due, and reads
 * PostgreSQL's log (PG_LOG, default /var/log/postgresql/postgresql-15-main.log; it must be readable) back for
 * the lines of that database between the markers. Commits that write are counted from the log: each COMMIT of a
 * transaction that wrote, and each autocommit statement that wrote (`writesAlone`). `pg_current_xact_id()` is
 * cluster-wide, so its difference (printed too) is exact only on a server no other database is writing to.
 * Usage: npm run build && node bench/statements.js [--trades 1] [--settle-ms 3000] [--statements] [--durations]
 *   --statements prints every statement of the window, with its backend and origin, to stderr;
 *   --durations logs each statement's parse, bind and execute with its time instead, and adds PostgreSQL's time a trade
 *   by origin and phase (`postgresMsPerTrade`); on a quiet machine, wall time in the backend is about its CPU.
 */
const { readFileSync, statSync } = require('node:fs');
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

const LOG = process.env.PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log';
const MARK = 'yb-statements-mark';

/**
 * Where a statement comes from, by what it reads or writes: the first rule that matches names it. Checked in
 * order, so the more specific come first.
 * @type {[string, RegExp][]}
 */
const ORIGINS = [
  ['transaction control', /^(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SAVEPOINT|RELEASE|SET (LOCAL|TRANSACTION))/i],
  ['PayPal mock', /paypal_mock_/i],
  ['WeChat mock', /wechat_mock_/i],
  ['bank mock', /bank_mock_/i],
  ['mock faults and keys', /sandbox_faults|sandbox_keys|sandbox_/i],
  ['outbox relay', /\bFROM outbox\b|UPDATE outbox\b|DELETE FROM outbox|pg_notify\('yb_outbox/i],
  ['idempotency', /idempotency_keys/i],
  ['settlement claim and steps', /settlement_steps|settlement_claim/i],
  ['provider events (webhooks)', /provider_events/i],
  ['provider health', /provider_health|provider_outages/i],
  ['event fan-out', /fanned_out_at|stream_seq|event_recipients.*FROM|FROM events\b/i],
  ['trade state change (CTE)', /UPDATE trades\b[\s\S]*INSERT INTO trade_events|WITH[\s\S]*UPDATE trades/i],
  ['trade update', /UPDATE trades\b/i],
  ['timeline', /trade_events/i],
  ['events', /INSERT INTO events|event_recipients/i],
  ['ledger', /ledger_/i],
  ['outbox rows (in a transaction)', /INSERT INTO outbox/i],
  ['funding', /trade_fundings|payout_verifications|wechat_payouts|trade_payouts/i],
  ['trade and party locks', /FROM users\b[\s\S]*FOR (UPDATE|SHARE)|FROM trades\b[\s\S]*FOR (UPDATE|SHARE)/i],
  ['market (request)', /exchange_requests|offers\b/i],
  ['trade reads', /FROM trades\b/i],
  ['user and principal reads', /FROM users\b|api_keys|user_reputation/i],
  ['rates', /reference_rates|rate_/i],
  ['jobs and sweeps', /pg_try_advisory|advisory/i],
];

const WRITES =
  /^\s*(WITH[\s\S]*\b(INSERT|UPDATE|DELETE)\b|INSERT|UPDATE|DELETE|SELECT[\s\S]*(pg_notify|nextval|FOR UPDATE|FOR SHARE|FOR NO KEY UPDATE))/i;

/** Writes that match no row in these trades: the mocks' fault counter (no faults set), client webhook deliveries (no endpoints). */
const WRITES_NOTHING_HERE = /UPDATE sandbox_faults|INSERT INTO webhook_deliveries/i;

/**
 * Whether an autocommit statement wrote, so committed a transaction id. The log has no row counts: a write
 * statement counts, except those that match no row here (`WRITES_NOTHING_HERE`), and the relay's lease, which
 * counts when it leased rows, as the mark of the same relay that follows it shows.
 */
function writesAlone(sql, pid, after) {
  if (!WRITES.test(sql)) return false;
  if (WRITES_NOTHING_HERE.test(sql)) return false;
  if (/^\s*UPDATE outbox SET next_attempt_at/i.test(sql)) {
    const next = after.find((e) => e.pid === pid && /\boutbox\b/i.test(e.sql));
    return !!next && /^\s*UPDATE outbox SET published_at/i.test(next.sql);
  }
  return true;
}

const originOf = (sql) => ORIGINS.find(([, pattern]) => pattern.test(sql))?.[0] ?? 'other';

/**
 * The log's statements of `database` after byte `from`, continuation lines joined: `{pid, sql, phase, ms, named}` in
 * order. With `log_statement = 'all'` each statement is one `statement` or `execute` line (no `ms`); with
 * `log_min_duration_statement = 0` (`--durations`) the extended protocol's `parse` and `bind` have their own lines
 * beside `execute`, each with its time.
 */
function statementsOf(database, from) {
  const text = readFileSync(LOG).subarray(from).toString('utf8');
  const entries = [];
  let current = null;
  for (const line of text.split('\n')) {
    const head = /^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[(\d+)\] (\S*)@(\S*) (\w+):\s+(.*)$/.exec(line);
    if (head) {
      current = null;
      const [, pid, , db, level, message] = head;
      if (db !== database || level !== 'LOG') continue;
      const statement = /^(?:duration: ([\d.]+) ms  )?(statement|execute|parse|bind)( [^:]+)?: ([\s\S]*)$/.exec(message);
      if (!statement) continue;
      const [, ms, phase, name, sql] = statement;
      current = { pid: Number(pid), sql, phase, ms: ms === undefined ? null : Number(ms), named: /^ yb_/.test(name ?? '') };
      entries.push(current);
    } else if (current && /^\s/.test(line)) {
      current.sql += `\n${line}`;
    } else if (!/^\d{4}-/.test(line)) {
      // Another database's continuation, or a blank line.
    } else {
      current = null;
    }
  }
  return entries;
}

/**
 * PostgreSQL's time a trade, by origin and by phase: parsing and planning (`parse`, `bind`; an unnamed statement pays
 * both at every call, a named one parses once per connection and plans until its plan is kept) and running (`execute`,
 * or a simple query's `statement`, which includes its commit).
 */
function timeByPhase(window, trades) {
  const byOrigin = new Map();
  for (const { sql, phase, ms, named } of window) {
    const origin = originOf(sql);
    if (!byOrigin.has(origin)) byOrigin.set(origin, { parse: 0, bind: 0, execute: 0, unnamedParseAndBind: 0 });
    const r = byOrigin.get(origin);
    r[phase === 'statement' ? 'execute' : phase] += ms ?? 0;
    if (!named && (phase === 'parse' || phase === 'bind')) r.unnamedParseAndBind += ms ?? 0;
  }
  const per = (n) => Number((n / trades).toFixed(2));
  const rows = [...byOrigin.entries()].sort((a, b) => b[1].parse + b[1].bind + b[1].execute - (a[1].parse + a[1].bind + a[1].execute));
  const total = { parse: 0, bind: 0, execute: 0, unnamedParseAndBind: 0 };
  for (const [, r] of rows) for (const k of Object.keys(total)) total[k] += r[k];
  return {
    total: Object.fromEntries(Object.entries(total).map(([k, v]) => [k, per(v)])),
    byOrigin: Object.fromEntries(rows.map(([origin, r]) => [origin, Object.fromEntries(Object.entries(r).map(([k, v]) => [k, per(v)]))])),
  };
}

/** Statements, transactions and commits by origin; a transaction is named by its first statement that is not a lock or read of a party. */
function breakdown(entries) {
  const begin = entries.findIndex((e) => e.sql.includes(`${MARK}:begin`));
  const end = entries.findIndex((e) => e.sql.includes(`${MARK}:end`));
  const all = entries.slice(begin + 1, end).filter((e) => !e.sql.includes('/* bench */'));
  // One line a statement: its `statement` or `execute` (with `--durations`, its parse and bind have lines too).
  const window = all.filter((e) => e.phase === 'statement' || e.phase === 'execute');
  /** @type {Map<number, {origins: string[], writes: boolean, statements: number}>} */
  const open = new Map();
  const byOrigin = new Map();
  const row = (origin) => {
    if (!byOrigin.has(origin)) byOrigin.set(origin, { statements: 0, transactions: 0, commits: 0, autocommitWrites: 0 });
    return byOrigin.get(origin);
  };
  const transactions = [];
  for (const [index, { pid, sql }] of window.entries()) {
    const origin = originOf(sql);
    if (/^\s*(BEGIN|START TRANSACTION)/i.test(sql)) {
      open.set(pid, { origins: [], writes: false, statements: 0 });
      continue;
    }
    const tx = open.get(pid);
    if (/^\s*(COMMIT|ROLLBACK)/i.test(sql)) {
      if (tx) {
        const named = tx.origins.find((o) => o !== 'trade and party locks' && o !== 'transaction control') ?? tx.origins[0] ?? 'empty';
        const r = row(named);
        r.transactions += 1;
        if (/^\s*COMMIT/i.test(sql) && tx.writes) r.commits += 1;
        transactions.push({ origin: named, statements: tx.statements + 2, origins: tx.origins, writes: tx.writes });
      }
      open.delete(pid);
      continue;
    }
    row(origin).statements += 1;
    if (tx) {
      tx.origins.push(origin);
      tx.statements += 1;
      if (WRITES.test(sql) && !WRITES_NOTHING_HERE.test(sql)) tx.writes = true;
    } else if (writesAlone(sql, pid, window.slice(index + 1))) {
      row(origin).commits += 1;
      row(origin).autocommitWrites += 1;
    }
  }
  const controlStatements = window.filter((e) => /^\s*(BEGIN|START TRANSACTION|COMMIT|ROLLBACK)/i.test(e.sql)).length;
  const rows = [...byOrigin.entries()].sort((a, b) => b[1].statements + b[1].commits * 3 - (a[1].statements + a[1].commits * 3));
  return { all, window, rows, transactions, controlStatements };
}

async function main() {
  const trades = numberArg('trades', 1);
  const settleMs = numberArg('settle-ms', 3000);
  const port = numberArg('port', 3917);
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_statements');
  const database = databaseUrl.pathname.slice(1);
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  const admin = new Client({ connectionString: maintenance.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  // This database only: every statement logged; with `--durations`, every phase of every statement with its time.
  const durations = process.argv.includes('--durations');
  await admin.query(`ALTER DATABASE "${database}" SET ${durations ? 'log_min_duration_statement = 0' : "log_statement = 'all'"}`);
  await admin.end();
  const env = serviceEnv(databaseUrl, port, { PAYPAL_MOCK_PAYOUT_DELAY_MS: '50' });
  const db = new Client({ connectionString: databaseUrl.toString() });
  let child;
  try {
    ({ child } = await startService(env, baseUrl));
    await db.connect();
    const pair = await tradingPair(http, 's');
    const quiet = async () => {
      // Until no outbox row is due and unpublished, then the settle time for jobs in flight.
      for (let i = 0; i < 200; i += 1) {
        const { rows } = await db.query(`/* bench */ SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
        if (rows[0].n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    };
    await wholeTrade(http, pair);
    await quiet();
    const from = statSync(LOG).size;
    const xid = async () => Number((await db.query(`/* bench */ SELECT pg_current_xact_id()::text::bigint AS xid`)).rows[0].xid);
    await db.query(`SELECT '${MARK}:begin'`);
    const xidBefore = await xid();
    const startedAt = Date.now();
    for (let i = 0; i < trades; i += 1) await wholeTrade(http, pair);
    await quiet();
    const writeTransactions = (await xid()) - xidBefore - 1;
    const seconds = (Date.now() - startedAt) / 1000;
    await db.query(`SELECT '${MARK}:end'`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { all, window, rows, transactions, controlStatements } = breakdown(statementsOf(database, from));
    const per = (n) => Number((n / trades).toFixed(1));
    const result = {
      trades,
      seconds: Number(seconds.toFixed(1)),
      perTrade: {
        statements: per(window.length),
        statementsWithoutTransactionControl: per(window.length - controlStatements),
        explicitTransactions: per(transactions.length),
        // Cluster-wide: every database's write transactions in the same time (exact only on a server nobody else uses).
        clusterWriteTransactions: per(writeTransactions),
        commitsThatWrite: per(rows.reduce((sum, [, r]) => sum + r.commits, 0)),
      },
      byOrigin: Object.fromEntries(
        rows.map(([origin, r]) => [
          origin,
          {
            statements: per(r.statements),
            transactions: per(r.transactions),
            commits: per(r.commits),
            autocommitWrites: per(r.autocommitWrites),
          },
        ]),
      ),
    };
    if (durations) result.postgresMsPerTrade = timeByPhase(all, trades);
    if (process.argv.includes('--statements')) {
      for (const { pid, sql } of window) process.stderr.write(`${pid}\t${originOf(sql)}\t${sql.replace(/\s+/g, ' ').slice(0, 220)}\n`);
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await db.end().catch(() => undefined);
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

main().catch((error) => {
  process.stderr.write(`statements bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
