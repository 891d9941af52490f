import { DataSource } from 'typeorm';
import { LEGACY_BLIND_INDEX_KEY_ID } from '../common/crypto/field-encryption';
import { returningRows, SqlParams } from '../common/database/query';
import type { EncryptedColumn } from './encrypted-columns';
import { columnNames, StoredValue } from './key-rotation';

export interface LockedValue {
  /** The row's primary key values, in the column's `id` order. */
  id: unknown[];
  value: StoredValue;
}

export interface Rewrite {
  row: LockedValue;
  next: StoredValue;
}

export interface BatchOutcome {
  /** Rows locked in this batch (0: none left after `after`). */
  locked: number;
  rotated: number;
  /** Rows whose value changed between the read and the write: left for the next run. */
  changed: number;
  /** The last locked row's key: the next batch starts after it. */
  last?: unknown[];
}

/** The key id a blind index column's value was computed under, in SQL (see blindIndexKeyIdOf). */
function indexKeyIdSql(index: string, legacy: string): string {
  return `(CASE WHEN strpos(${index}, ':') > 0 THEN split_part(${index}, ':', 1) ELSE ${legacy} END)`;
}

/** Rows whose value is not under the active keys: its key id is old, or its blind index is. */
function staleSql(column: EncryptedColumn, active: { encryption: string; blindIndex: string }, params: SqlParams): string {
  const names = columnNames(column);
  const stale = [`${names.keyId} <> ${params.add(active.encryption)}`];
  if (names.index) {
    const indexKeyId = indexKeyIdSql(names.index, params.add(LEGACY_BLIND_INDEX_KEY_ID));
    stale.push(`(${names.index} IS NOT NULL AND ${indexKeyId} <> ${params.add(active.blindIndex)})`);
  }
  return `${names.ciphertext} IS NOT NULL AND (${stale.join(' OR ')})`;
}

/**
 * The SQL of key rotation, for any encrypted column (identifiers come from ENCRYPTED_COLUMNS, checked by
 * columnNames). Not a Nest provider: the CLI and tests build it from a DataSource.
 */
export class KeyRotationRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * In one transaction: locks up to `limit` rows after `after` (in key order) whose value is not under the
   * active keys, skipping rows the service holds locked, hands them to `rewrite`, and writes what it returns,
   * each only if the row still holds the value read (compare-and-set), so a concurrent write is never
   * overwritten with a stale value.
   */
  async rotateBatch(
    column: EncryptedColumn,
    active: { encryption: string; blindIndex: string },
    limit: number,
    after: unknown[] | undefined,
    rewrite: (rows: LockedValue[]) => Promise<Rewrite[]>,
  ): Promise<BatchOutcome> {
    const names = columnNames(column);
    const ids = column.id.join(', ');
    return this.dataSource.transaction(async (manager) => {
      const params = new SqlParams();
      const stale = staleSql(column, active, params);
      const afterSql = after ? `AND (${ids}) > (${after.map((v) => params.add(v)).join(', ')})` : '';
      const rows: Record<string, string | null>[] = await manager.query(
        `SELECT ${column.id.map((c, i) => `${c} AS id${i}`).join(', ')}, ${names.ciphertext} AS ciphertext, ${names.keyId} AS key_id${
          names.index ? `, ${names.index} AS blind_index` : ''
        }
           FROM ${column.table}
          WHERE ${stale} ${afterSql}
          ORDER BY ${ids} LIMIT ${params.add(limit)} FOR NO KEY UPDATE SKIP LOCKED`,
        params.values,
      );
      const locked: LockedValue[] = rows.map((row) => ({
        id: column.id.map((_, i) => row[`id${i}`]),
        value: { ciphertext: row.ciphertext as string, keyId: row.key_id as string, index: names.index ? row.blind_index : undefined },
      }));
      const rewrites = await rewrite(locked);
      let rotated = 0;
      for (const { row, next } of rewrites) {
        const set = new SqlParams();
        const assignments = [`${names.ciphertext} = ${set.add(next.ciphertext)}`, `${names.keyId} = ${set.add(next.keyId)}`];
        const unchanged = [`${names.ciphertext} = ${set.add(row.value.ciphertext)}`, `${names.keyId} = ${set.add(row.value.keyId)}`];
        if (names.index) {
          assignments.push(`${names.index} = ${set.add(next.index)}`);
          unchanged.push(`${names.index} IS NOT DISTINCT FROM ${set.add(row.value.index)}`);
        }
        const written = await returningRows(
          manager,
          `UPDATE ${column.table} SET ${assignments.join(', ')}
            WHERE (${ids}) = (${row.id.map((v) => set.add(v)).join(', ')}) AND ${unchanged.join(' AND ')} RETURNING 1`,
          set.values,
        );
        rotated += written.length;
      }
      return { locked: locked.length, rotated, changed: rewrites.length - rotated, last: locked[locked.length - 1]?.id };
    });
  }

  /** How many of the column's values are not under the active keys. */
  async countStale(column: EncryptedColumn, active: { encryption: string; blindIndex: string }): Promise<number> {
    const params = new SqlParams();
    const where = staleSql(column, active, params);
    const rows = await this.dataSource.query(`SELECT count(*)::int AS n FROM ${column.table} WHERE ${where}`, params.values);
    return rows[0].n;
  }

  /** How many values of the column each key id holds, and how many blind indexes each blind index key id. */
  async countByKeyId(column: EncryptedColumn): Promise<{ encryption: Map<string, number>; blindIndex: Map<string, number> | null }> {
    const names = columnNames(column);
    const count = async (sql: string, params: unknown[]) =>
      new Map(((await this.dataSource.query(sql, params)) as { key_id: string; n: number }[]).map((r) => [r.key_id, r.n]));
    const encryption = await count(
      `SELECT ${names.keyId} AS key_id, count(*)::int AS n FROM ${column.table} WHERE ${names.ciphertext} IS NOT NULL GROUP BY 1 ORDER BY 1`,
      [],
    );
    const blindIndex = names.index
      ? await count(
          `SELECT ${indexKeyIdSql(names.index, '$1')} AS key_id, count(*)::int AS n FROM ${column.table}
            WHERE ${names.index} IS NOT NULL GROUP BY 1 ORDER BY 1`,
          [LEGACY_BLIND_INDEX_KEY_ID],
        )
      : null;
    return { encryption, blindIndex };
  }
}
