import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadDatabaseConfig, loadRedisConfig } from '../src/config';
import { checkRedis, preflight, PreflightError } from '../src/database/preflight';
import { dropDatabase } from './support/test-app';

const BASE_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('start-up preflight', () => {
  it('creates the database named in DATABASE_URL and migrates it', async () => {
    const url = new URL(BASE_DATABASE_URL);
    url.pathname = `/yb_start_${randomBytes(4).toString('hex')}`;
    try {
      // Three processes starting at once on an empty server: one creates and migrates, the others wait and agree.
      const config = loadDatabaseConfig({ DATABASE_URL: url.toString() });
      const redis = loadRedisConfig({ REDIS_URL: process.env.REDIS_URL });
      await Promise.all([preflight(config, redis), preflight(config, redis), preflight(config, redis)]);
      const db = new Client({ connectionString: url.toString() });
      await db.connect();
      try {
        const migrations = await db.query(`SELECT name FROM schema_migrations`);
        expect(migrations.rows.map((r) => r.name)).toContain('Foundation1764000000000');
        expect(migrations.rowCount).toBe(new Set(migrations.rows.map((r) => r.name)).size);
        // A later start finds nothing to do.
        await preflight(config, redis);
        expect((await db.query(`SELECT count(*)::int AS n FROM schema_migrations`)).rows[0].n).toBe(migrations.rowCount);
      } finally {
        await db.end();
      }
    } finally {
      await dropDatabase(url.toString());
    }
  });

  it('says in one line which service is unreachable, where, and how to start it', async () => {
    const unreachableDb = loadDatabaseConfig({
      DATABASE_URL: 'postgres://yb:secret-password@127.0.0.1:1/yuanbridge',
      DATABASE_CONNECT_TIMEOUT_MS: '300',
    });
    const error = await preflight(unreachableDb, loadRedisConfig({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    expect((error as Error).message).toMatch(
      /^PostgreSQL is not reachable at 127\.0\.0\.1:1 \(DATABASE_URL\): ECONNREFUSED\. Start it with `docker compose up -d postgres`/,
    );
    expect((error as Error).message).not.toContain('secret-password');
    expect((error as Error).message).not.toContain('\n');

    const redisError = await checkRedis(loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CONNECT_TIMEOUT_MS: '300' })).catch(
      (e: unknown) => e,
    );
    expect(redisError).toBeInstanceOf(PreflightError);
    expect((redisError as Error).message).toMatch(
      /^Redis is not reachable at 127\.0\.0\.1:1 \(REDIS_URL\): ECONNREFUSED\. Start it with `docker compose up -d redis`/,
    );
  });
});
