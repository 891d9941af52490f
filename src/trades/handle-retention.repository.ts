import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { changedRows, returningRows } from '../common/database/query';
import { moneyOwedSql } from './money-owed';

const SNAPSHOT_COLUMNS = [
  'traveler_wechat_ciphertext',
  'traveler_wechat_key_id',
  'traveler_wechat_index',
  'counterparty_wechat_ciphertext',
  'counterparty_wechat_key_id',
  'counterparty_wechat_index',
  'counterparty_paypal_ciphertext',
  'counterparty_paypal_key_id',
  'counterparty_paypal_index',
];

/**
 * Erases, together (the table's `CHECK` wants all nine columns at once, on ended trades only), the snapshots of the
 * trades `selection` picks by id; `selection` must only pick ended trades whose handles are kept and owe nothing
 * (`moneyOwedSql`: each owed thing may still need a handle, or an operator's reveal of it). `updated_at` is left
 * alone: nothing a party sees of the trade changes.
 */
function eraseSql(selection: string): string {
  return `UPDATE trades SET ${SNAPSHOT_COLUMNS.map((c) => `${c} = NULL`).join(', ')}, handles_erased_at = now()
           WHERE id IN (${selection})
           RETURNING id`;
}

const ERASABLE = `t.handles_erased_at IS NULL AND t.ended_at IS NOT NULL AND NOT ${moneyOwedSql('t')}`;

/** The erasure of ended trades' payment handle snapshots: once their retention period has passed, or their party is deleted. */
@Injectable()
export class HandleRetentionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Erases the snapshots of up to `limit` trades that ended at least `retentionMs` ago (by PostgreSQL's clock) and owe
   * nothing; returns how many. One statement per batch; rows another transaction holds (a settlement or watch being
   * recorded under the trade's row lock) are skipped and taken by a later run. Idempotent: an erased trade is not
   * taken again.
   */
  async eraseDue(retentionMs: number, limit: number): Promise<number> {
    return changedRows(
      this.dataSource.manager,
      eraseSql(`SELECT t.id FROM trades t
                 WHERE ${ERASABLE}
                   -- A duration in SQL, as a double: 30 days (2.6e9 ms) is past a 32-bit integer.
                   AND t.ended_at <= now() - $1::double precision * interval '1 millisecond'
                 ORDER BY t.ended_at, t.id
                 LIMIT $2
                 FOR UPDATE OF t SKIP LOCKED`),
      [retentionMs, limit],
    );
  }

  /**
   * Erases now, in the caller's transaction, the snapshots of those of these trades that ended and owe nothing (an
   * account's deletion, for all of its trades: it has already refused a trade not over). Waits for the rows'
   * locks; returns the ids erased.
   */
  async eraseEnded(manager: EntityManager, tradeIds: readonly string[]): Promise<string[]> {
    if (tradeIds.length === 0) return [];
    const rows = await returningRows<{ id: string }>(
      manager,
      eraseSql(`SELECT t.id FROM trades t WHERE t.id = ANY($1::uuid[]) AND ${ERASABLE} ORDER BY t.id FOR UPDATE OF t`),
      [tradeIds],
    );
    return rows.map((r) => r.id);
  }
}
