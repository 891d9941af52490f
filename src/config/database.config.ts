import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/yuanbridge';

export function loadDatabaseConfig(env = process.env) {
  const read = new EnvReader(env);
  const url = read.url('DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']);
  if (url.pathname.length <= 1) read.fail('DATABASE_URL must name a database (…/yuanbridge)');
  const listenUrl = read.url('DATABASE_LISTEN_URL', url.toString(), ['postgres:', 'postgresql:']);
  if (listenUrl.pathname.length <= 1) read.fail('DATABASE_LISTEN_URL must name a database (…/yuanbridge)');
  return read.done({
    url: url.toString(),
    /**
     * The one connection per process that LISTENs for notifications: PostgreSQL itself or a session-mode pool, never a
     * transaction-mode pool (which hands the LISTEN to a server connection the notifications then never leave).
     */
    listenUrl: listenUrl.toString(),
    poolSize: read.int('DATABASE_POOL_SIZE', 10, { min: 1, max: 200 }),
    connectTimeoutMs: read.int('DATABASE_CONNECT_TIMEOUT_MS', 3000, { min: 100 }),
    statementTimeoutMs: read.int('DATABASE_STATEMENT_TIMEOUT_MS', 15000, { min: 100 }),
    /** Run pending migrations when the service starts. */
    migrateOnStart: read.bool('MIGRATE_ON_START', true),
    /** Create the database named in DATABASE_URL when it is missing. */
    createIfMissing: read.bool('DATABASE_CREATE_IF_MISSING', true),
  });
}

export type DatabaseConfig = ReturnType<typeof loadDatabaseConfig>;

export const databaseConfig = registerAs('database', () => loadDatabaseConfig());
