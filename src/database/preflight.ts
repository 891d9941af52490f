import { Redis } from 'ioredis';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadAppConfig, type DatabaseConfig, type RedisConfig } from '../config';
import { dataSourceOptions, SANDBOX_MIGRATIONS_GLOB, SANDBOX_MIGRATIONS_TABLE } from './data-source-options';

/** A start-up problem explained in one line: what is unreachable, where, and how to start it. */
export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

// Any value of this lock works; it only has to be the same for every process that migrates.
const MIGRATION_LOCK_KEY = 7_246_013_587;

function where(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol.startsWith('redis') ? '6379' : '5432')}`;
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

function reason(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: { code?: string }[] };
  return e.code ?? e.errors?.[0]?.code ?? e.message ?? String(error);
}

function unreachableDatabase(config: DatabaseConfig, error: unknown): PreflightError {
  return new PreflightError(
    `PostgreSQL is not reachable at ${where(config.url)} (DATABASE_URL): ${reason(error)}. ` +
      'Start it with `docker compose up -d postgres`, or start the local service (`pg_ctlcluster 15 main start`).',
  );
}

/** Creates the database named in DATABASE_URL when the server has no such database; true when this call made it. */
export async function ensureDatabaseExists(config: DatabaseConfig): Promise<boolean> {
  const name = databaseName(config.url);
  const maintenanceUrl = new URL(config.url);
  maintenanceUrl.pathname = '/postgres';
  const client = new Client({ connectionString: maintenanceUrl.toString(), connectionTimeoutMillis: config.connectTimeoutMs });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw unreachableDatabase(config, error);
  }
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount !== 0) return false;
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      return true;
    } catch (error) {
      // Another process created it first: "already exists", or the catalog's unique index when both raced.
      if (!['42P04', '23505'].includes((error as { code?: string }).code ?? '')) throw error;
      return false;
    }
  } finally {
    await client.end();
  }
}

/**
 * Runs pending migrations under an advisory lock, so processes starting together migrate once: the main chain,
 * then, in sandbox mode only, the sandbox chain (the provider mocks' tables, see docs/SANDBOX.md).
 */
export async function runMigrations(config: DatabaseConfig, sandbox = loadAppConfig().sandbox): Promise<string[]> {
  // One connection holds the lock; the migrations run on the other.
  const dataSource = new DataSource({ ...dataSourceOptions(config), extra: { max: 2, connectionTimeoutMillis: config.connectTimeoutMs } });
  try {
    await dataSource.initialize();
  } catch (error) {
    throw unreachableDatabase(config, error);
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      if (sandbox) applied.push(...(await runSandboxMigrations(config)));
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
    await dataSource.destroy();
  }
}

/** The sandbox chain, on a connection of its own; the caller holds the migration lock. */
async function runSandboxMigrations(config: DatabaseConfig) {
  const sandboxSource = new DataSource({
    ...dataSourceOptions(config),
    migrations: [SANDBOX_MIGRATIONS_GLOB],
    migrationsTableName: SANDBOX_MIGRATIONS_TABLE,
    extra: { max: 1, connectionTimeoutMillis: config.connectTimeoutMs },
  });
  await sandboxSource.initialize();
  try {
    return await sandboxSource.runMigrations({ transaction: 'each' });
  } finally {
    await sandboxSource.destroy();
  }
}

export async function checkRedis(config: RedisConfig): Promise<void> {
  const redis = new Redis(config.url, {
    connectTimeout: config.connectTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    enableOfflineQueue: false,
  });
  // ioredis reports the cause (ECONNREFUSED…) as an event and rejects with a generic "Connection is closed".
  let cause: unknown;
  redis.on('error', (error) => {
    cause ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new PreflightError(
      `Redis is not reachable at ${where(config.url)} (REDIS_URL): ${reason(cause ?? error).replace(/\.$/, '')}. ` +
        'Start it with `docker compose up -d redis`, or start the local service (`redis-server --daemonize yes`).',
    );
  } finally {
    redis.disconnect();
  }
}

/** What the start did to the database, for its one start-up line. */
export interface DatabaseReport {
  name: string;
  created: boolean;
  /** The migrations this start applied; undefined when MIGRATE_ON_START is off. */
  applied?: string[];
}

export function describeDatabase(report: DatabaseReport): string {
  const name = `Database ${report.name}`;
  if (!report.applied) return `${name}: migrations not run at start (MIGRATE_ON_START=false)${report.created ? ', created empty' : ''}`;
  const count = `${report.applied.length} migration${report.applied.length === 1 ? '' : 's'}`;
  if (report.created) return `${name} created and migrated (${count})`;
  return report.applied.length > 0 ? `${name} migrated: ${count} applied` : `${name} up to date`;
}

export async function preflight(database: DatabaseConfig, redis: RedisConfig): Promise<DatabaseReport> {
  const [report] = await Promise.all([
    (async (): Promise<DatabaseReport> => {
      const created = database.createIfMissing ? await ensureDatabaseExists(database) : false;
      const applied = database.migrateOnStart ? await runMigrations(database) : undefined;
      return { name: databaseName(database.url), created, applied };
    })(),
    checkRedis(redis),
  ]);
  return report;
}
