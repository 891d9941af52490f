import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config';

// Compiled, this file sits in dist/src/database; the migrations in dist/migrations. Under Jest, both are .ts.
export const MIGRATIONS_GLOB = join(__dirname, '..', '..', 'migrations', '*.{js,ts}');

/** The sandbox chain: the provider mocks' tables, migrated only in sandbox mode, with a record of its own. */
export const SANDBOX_MIGRATIONS_GLOB = join(__dirname, '..', '..', 'migrations', 'sandbox', '*.{js,ts}');
export const SANDBOX_MIGRATIONS_TABLE = 'sandbox_schema_migrations';

export function dataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  return {
    type: 'postgres',
    url: config.url,
    synchronize: false,
    migrationsRun: false,
    migrations: [MIGRATIONS_GLOB],
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    extra: {
      max: config.poolSize,
      connectionTimeoutMillis: config.connectTimeoutMs,
      statement_timeout: config.statementTimeoutMs,
      application_name: 'yuanbridge',
    },
  };
}
