import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Client } from 'pg';
import { loadDatabaseConfig, loadRedisConfig } from '../../config';
import { preflight } from '../../database/preflight';
import { createApp } from '../create-app';
import { buildApiDocument } from './document';
import { serializeDocument } from './serialize';

/**
 * Builds the application on a database of its own (created from the migrations, dropped afterwards) without
 * listening, and writes its OpenAPI document: the same settings as the tests, so the served document matches.
 */
export async function generateOpenApi(file: string): Promise<void> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const suffix = randomBytes(5).toString('hex');
  const database = new URL(base);
  database.pathname = `/yb_openapi_${suffix}`;
  Object.assign(process.env, {
    NODE_ENV: 'test',
    DATABASE_URL: database.toString(),
    QUEUE_PREFIX: `{ybo_${suffix}}`,
    LOG_LEVEL: 'silent',
    RUN_WORKERS: 'false',
  });
  try {
    await preflight(loadDatabaseConfig(), loadRedisConfig());
    const app = await createApp({ workers: false });
    try {
      writeFileSync(file, serializeDocument(buildApiDocument(app)));
    } finally {
      await app.close();
    }
  } finally {
    const maintenance = new URL(database);
    maintenance.pathname = '/postgres';
    const client = new Client({ connectionString: maintenance.toString() });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${database.pathname.slice(1)}" WITH (FORCE)`);
    await client.end();
  }
}
