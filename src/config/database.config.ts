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
    /**
     * How often the listening connection is asked a `SELECT 1`; one still unanswered at the next ask means the
     * connection died silently (a peer gone without a word, a dropped NAT entry), and it is opened again. Nothing
     * else is ever sent on it, so without the probe such a death would go unnoticed.
     */
    listenProbeEveryMs: read.int('DATABASE_LISTEN_PROBE_EVERY_MS', 30000, { min: 100, max: 60 * 60 * 1000 }),
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
