/*
 * Loaded into a bench's service processes with `node --require` (never by the service itself): counts the SQL
 * statements the process sends, by kind and table, and its transactions, those that write or lock rows apart.
 * It writes the counts to `<BENCH_STATEMENTS_DIR>/<pid>.json` four times a second, so the bench reads them before
 * and after its measured window. Counting is a few string operations per statement, on the pg client's own call.
 */
const fs = require('node:fs');
const path = require('node:path');
const pg = require('pg');

const directory = process.env.BENCH_STATEMENTS_DIR;
const counts = new Map();
const totals = { statements: 0, transactions: 0, writeTransactions: 0 };
const OPENS = /^(BEGIN|START)\b/;
const CLOSES = /^(COMMIT|ROLLBACK|END)\b/;
// What makes PostgreSQL assign a transaction id: a row written, or locked.
const WRITES = /\b(INSERT\s+INTO|UPDATE\s+"?\w+"?\s+(AS\s+\w+\s+)?SET|DELETE\s+FROM|FOR\s+(NO\s+KEY\s+)?UPDATE|FOR\s+(KEY\s+)?SHARE)\b/i;

/** `SELECT trades`, `INSERT outbox`, `COMMIT`…: the statement's verb and the first table it names. */
function kindOf(text) {
  const sql = text.replace(/\/\*[\s\S]*?\*\/|--[^\n]*/g, ' ').trim();
  const verb = (sql.match(/^\w+/)?.[0] ?? '?').toUpperCase();
  if (OPENS.test(verb) || CLOSES.test(verb) || verb === 'SAVEPOINT' || verb === 'RELEASE') return verb;
  const table = sql.match(/\b(?:INTO|UPDATE|FROM)\s+"?([a-z_][\w.]*)"?/i)?.[1];
  return table ? `${verb} ${table}` : verb;
}

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    const kind = kindOf(text);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    totals.statements += 1;
    const state = (this.__benchTransaction ??= { open: false, writes: false });
    if (OPENS.test(kind)) Object.assign(state, { open: true, writes: false });
    else if (CLOSES.test(kind)) {
      if (state.open) {
        totals.transactions += 1;
        if (state.writes && kind === 'COMMIT') totals.writeTransactions += 1;
      }
      Object.assign(state, { open: false, writes: false });
    } else {
      const writes = WRITES.test(text);
      if (state.open) state.writes ||= writes;
      else {
        // A statement alone is a transaction of its own.
        totals.transactions += 1;
        if (writes) totals.writeTransactions += 1;
      }
    }
  }
  return query.call(this, config, ...rest);
};

if (directory) {
  // Written four times a second rather than on a signal: Nest's shutdown hooks take SIGUSR2 for a stop.
  const file = path.join(directory, `${process.pid}.json`);
  setInterval(() => {
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, at: Date.now(), ...totals, byKind: Object.fromEntries(counts) }));
    fs.renameSync(`${file}.tmp`, file);
  }, 250).unref();
}
