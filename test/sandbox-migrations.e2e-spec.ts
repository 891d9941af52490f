import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadDatabaseConfig } from '../src/config';
import { dataSourceOptions } from '../src/database/data-source-options';
import { ensureDatabaseExists, runMigrations } from '../src/database/preflight';
import { dropDatabase } from './support/test-app';

const BASE_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MIGRATIONS = join(__dirname, '..', 'migrations');
const MOCK_TABLES = /^(paypal_mock_|bank_mock_|wechat_mock_|sandbox_faults$|sandbox_keys$)/;

/** A database as it was before the mocks' tables had a chain of their own: the main chain up to SandboxTablesOut. */
async function migrateAsBefore(url: string): Promise<void> {
  const config = loadDatabaseConfig({ DATABASE_URL: url });
  await ensureDatabaseExists(config);
  const earlier = readdirSync(MIGRATIONS)
    .filter((file) => file.endsWith('.ts') && file < '1764000000033')
    .map((file) => join(MIGRATIONS, file));
  const source = new DataSource({ ...dataSourceOptions(config), migrations: earlier, extra: { max: 1 } });
  await source.initialize();
  try {
    await source.runMigrations({ transaction: 'each' });
  } finally {
    await source.destroy();
  }
}

/** The mocks' tables as pg_dump describes them: columns, defaults, checks, keys, references and indexes. */
function mockSchema(url: string): string {
  const args = ['--schema-only', '--no-owner', '--no-privileges'];
  for (const pattern of ['paypal_mock_*', 'bank_mock_*', 'wechat_mock_*', 'sandbox_faults', 'sandbox_keys'])
    args.push(`--table=${pattern}`);
  const dump = execFileSync('pg_dump', [...args, url], { encoding: 'utf8' });
  // The order of the statements follows the order the tables were made in; the statements themselves must agree.
  return dump
    .replace(/^\\(un)?restrict .*$/gm, '') // pg_dump's per-run random key
    .split(/;\n/)
    .map((statement) => statement.replace(/^--.*$/gm, '').trim())
    .filter((statement) => statement && !statement.startsWith('SET ') && !statement.startsWith('SELECT pg_catalog'))
    .sort()
    .join(';\n');
}

describe('the sandbox migration chain', () => {
  const databases: string[] = [];
  const database = (name: string) => {
    const url = new URL(BASE_DATABASE_URL);
    url.pathname = `/yb_sbx_${name}_${randomBytes(4).toString('hex')}`;
    databases.push(url.toString());
    return url.toString();
  };
  const query = async <T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> => {
    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      return (await db.query(sql, params)).rows as T[];
    } finally {
      await db.end();
    }
  };
  const tables = async (url: string) =>
    (await query<{ tablename: string }>(url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map(
      (r) => r.tablename,
    );
  const mockTables = async (url: string) => (await tables(url)).filter((name) => MOCK_TABLES.test(name));

  afterAll(async () => {
    for (const url of databases) await dropDatabase(url);
  });

  it('gives a production database none of the mocks’ tables, and a sandbox all of them, made the same as before', async () => {
    const before = database('before');
    await migrateAsBefore(before);
    expect(await mockTables(before)).toHaveLength(15);

    const production = database('prod');
    await ensureDatabaseExists(loadDatabaseConfig({ DATABASE_URL: production }));
    await runMigrations(loadDatabaseConfig({ DATABASE_URL: production }), false);
    expect(await mockTables(production)).toEqual([]);
    expect(await tables(production)).not.toContain('sandbox_schema_migrations');
    expect(await tables(production)).toEqual(expect.arrayContaining(['trades', 'trade_fundings', 'bank_incoming_transfers']));

    const sandbox = database('sandbox');
    await ensureDatabaseExists(loadDatabaseConfig({ DATABASE_URL: sandbox }));
    await runMigrations(loadDatabaseConfig({ DATABASE_URL: sandbox }), true);
    expect(await mockTables(sandbox)).toEqual(await mockTables(before));
    expect(mockSchema(sandbox)).toEqual(mockSchema(before));
    expect(await query(sandbox, `SELECT name FROM sandbox_schema_migrations ORDER BY id`)).toEqual([
      { name: 'SandboxProviders1765000000000' },
      { name: 'SandboxChangeMade1765000000001' },
    ]);
    // The mocks' guard for a change written in one statement is the sandbox's only.
    const guard = `SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'sandbox_change_made'`;
    expect(await query(sandbox, guard)).toEqual([{ n: 1 }]);
    expect(await query(production, guard)).toEqual([{ n: 0 }]);

    // A production database switched to sandbox mode gets them from the sandbox chain, and a later start has nothing to do.
    await runMigrations(loadDatabaseConfig({ DATABASE_URL: production }), true);
    expect(mockSchema(production)).toEqual(mockSchema(before));
    expect(await runMigrations(loadDatabaseConfig({ DATABASE_URL: production }), true)).toEqual([]);
  });

  it('keeps a used sandbox’s state when an existing database migrates forward', async () => {
    const used = database('used');
    await migrateAsBefore(used);
    await query(used, `INSERT INTO bank_mock_accounts (account, closed) VALUES ('US-000123', true)`);
    await query(used, `INSERT INTO wechat_mock_wallets (wechat_id, balance_fen) VALUES ('wxkeptwallet', 4200)`);

    const applied = await runMigrations(loadDatabaseConfig({ DATABASE_URL: used }), true);
    expect(applied).toEqual(expect.arrayContaining(['SandboxTablesOut1764000000033', 'SandboxProviders1765000000000']));
    expect(await mockTables(used)).toHaveLength(15);
    expect(await query(used, `SELECT account, closed FROM bank_mock_accounts`)).toEqual([{ account: 'US-000123', closed: true }]);
    expect(await query(used, `SELECT wechat_id, balance_fen::int AS fen FROM wechat_mock_wallets`)).toEqual([
      { wechat_id: 'wxkeptwallet', fen: 4200 },
    ]);
  });
});
