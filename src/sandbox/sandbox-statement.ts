import { DataSource, QueryFailedError } from 'typeorm';
import { preparedAutocommit, SqlParams } from '../common/database/query';
import { NewOutboxRow, outboxInsertSql, outboxNotifySql } from '../outbox/outbox.repository';

/**
 * A mock's change written in ONE statement sent in autocommit, with the outbox rows of its webhooks: no BEGIN and
 * COMMIT around it. `sandbox_change_made` (migrations/sandbox) makes the outbox rows conditional on the change: the
 * statement raises, and so writes nothing, when the change did not apply. A raise, not the service's outbox rows
 * selected from the change (`outboxInsertFromSql`): a PayPal-Request-Id's kept answer is written before the change,
 * which waits on it, and must be undone with it.
 */

/** The select-list guard: raises YBS01 unless `count` (an SQL expression) is above zero. */
export function changeMadeSql(count: string): string {
  return `sandbox_change_made((${count})::bigint)`;
}

/** Whether `error` is the guard's: the change did not apply and nothing was written. */
export function changeNotMade(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string }).code === 'YBS01';
}

/**
 * The CTEs inserting `rows` (to follow the statement's other CTEs) and the select-list columns answering their ids
 * (`outbox_ids`, in order) and waking the relays when they have rows to publish.
 */
export function outboxCtes(rows: NewOutboxRow[], params: SqlParams): { ctes: string; columns: string } {
  return {
    ctes: rows.map((row, i) => `, outbox_${i} AS (${outboxInsertSql(row, params)})`).join(''),
    columns: `ARRAY[${rows.map((_, i) => `(SELECT id FROM outbox_${i})::text`).join(', ')}]::text[] AS outbox_ids,
              ${outboxNotifySql(rows, params)} AS notified`,
  };
}

/** Runs a change written as one such statement: its outbox rows' ids, or undefined when it did not apply. */
export async function runChange(dataSource: DataSource, sql: string, params: SqlParams): Promise<string[] | undefined> {
  try {
    const rows = await preparedAutocommit<{ outbox_ids: string[] }>(dataSource, sql, params.values);
    return rows[0].outbox_ids;
  } catch (error) {
    if (changeNotMade(error)) return undefined;
    throw error;
  }
}
