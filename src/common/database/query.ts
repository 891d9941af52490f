import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { QueryFailedError } from 'typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * Rows of an UPDATE or DELETE … RETURNING. TypeORM's postgres driver answers those with
 * `[rows, affectedCount]` and SELECTs or INSERTs with the rows alone; this hides the difference.
 */
export async function returningRows<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const result: unknown = await manager.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

/** How many rows an UPDATE or DELETE … RETURNING changed. */
export async function changedRows(manager: EntityManager, sql: string, params: unknown[]): Promise<number> {
  return (await returningRows(manager, sql, params)).length;
}

/** The one row of an UPDATE … RETURNING by key: undefined when none matched, typed like `rows[0]`. */
export async function returningRow<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T> {
  return (await returningRows<T>(manager, sql, params))[0];
}

/**
 * A read through a named prepared statement: each pooled connection plans it once and keeps the plan. For a
 * hot query whose planning costs more than its execution (a listing of two index streams joined to their
 * makers plans in about 1.8 ms and runs in under 1 ms). Its text must differ only in its parameters between
 * calls that should share a plan; the name is derived from the text, so each shape of it has its own.
 */
export async function preparedRead<T>(dataSource: DataSource, sql: string, params: unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as PostgresDriver).master as Pool;
  return asTypeormQuery(sql, params, () => pool.query({ name: statementName(sql), text: sql, values: params }));
}

/**
 * A statement that is a whole transaction by itself (autocommit on a pooled connection), as a named prepared
 * statement: for a change written in one statement whose locks should be held only while PostgreSQL runs it and
 * commits, with no round trip to the service between its lock and its commit. Its text must differ only in its
 * parameters between calls that should share a plan.
 */
export async function preparedAutocommit<T>(dataSource: DataSource, sql: string, params: unknown[]): Promise<T[]> {
  return preparedRead<T>(dataSource, sql, params);
}

/**
 * A statement inside the manager's transaction, as a named prepared statement on its connection: for a
 * statement of a hot critical section, whose planning would otherwise run under the locks it holds on
 * every call. Its text must differ only in its parameters between calls that should share a plan.
 */
export async function preparedInTransaction<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const runner = manager.queryRunner;
  if (!runner?.isTransactionActive) throw new Error('preparedInTransaction needs the manager of an open transaction');
  const connection = (await runner.connect()) as PoolClient;
  return asTypeormQuery(sql, params, () => connection.query({ name: statementName(sql), text: sql, values: params }));
}

/**
 * A hot read as a named prepared statement wherever it runs: on the connection of the manager's open transaction
 * (`preparedInTransaction`), else on the pool (`preparedRead`). Its text must list its columns (never `*`: a
 * kept plan refuses a table whose columns changed under it) and differ only in its parameters between calls.
 */
export async function preparedQuery<T>(
  dataSource: DataSource,
  manager: EntityManager | undefined,
  sql: string,
  params: unknown[],
): Promise<T[]> {
  return manager?.queryRunner?.isTransactionActive
    ? preparedInTransaction<T>(manager, sql, params)
    : preparedRead<T>(dataSource, sql, params);
}

/** Errors as TypeORM's queries throw them, so that logging (which must not print parameters) and constraint checks treat both alike. */
async function asTypeormQuery<T>(sql: string, params: unknown[], run: () => Promise<QueryResult>): Promise<T[]> {
  try {
    return (await run()).rows as T[];
  } catch (error) {
    throw new QueryFailedError(sql, params, error as Error);
  }
}

/** Each text's name, hashed once: the texts are the code's own, a few hundred, and hot ones run many times a second. */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `yb_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    // Texts built with a varying number of parameters could grow it without end: start again past a bound.
    if (statementNames.size >= 2000) statementNames.clear();
    statementNames.set(sql, name);
  }
  return name;
}

/**
 * The parameters of a statement built from fragments (one statement that writes several tables): each
 * value is appended once and named by the `$n` it gets, so fragments compose without counting.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    // Money and other bigints go as decimal strings, which PostgreSQL reads exactly.
    this.values.push(typeof value === 'bigint' ? value.toString() : value);
    return `$${this.values.length}`;
  }
}
