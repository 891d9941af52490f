import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../common/database/query';

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
 * What "nothing of this trade is owed" means for its handles: no settlement step unfinished (a step running, waiting
 * or failing, or an after-the-end watch open: `settlement_steps`), no payout or bank refund that came back, no flag
 * for operators (`settlement_failing`, which reconciliation raises too), no open reconciliation mismatch or watch.
 * Each of these may still need the counterparty's or the traveler's handle, or an operator's reveal of it.
 */
const NOTHING_OWED = `
  NOT t.settlement_failing
  AND NOT EXISTS (SELECT 1 FROM settlement_steps s WHERE s.trade_id = t.id AND s.status <> 'done')
  AND NOT EXISTS (SELECT 1 FROM trade_fundings f WHERE f.trade_id = t.id AND (f.payout_returned OR f.refund_returned))
  AND NOT EXISTS (SELECT 1 FROM reconciliation_mismatches m WHERE m.trade_id = t.id AND m.resolved_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM reconciliation_watch w WHERE w.trade_id = t.id AND w.until > now())`;

/** The erasure of ended trades' payment handle snapshots once their retention period has passed. */
@Injectable()
export class HandleRetentionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Erases the snapshots of up to `limit` trades that ended at least `retentionMs` ago (by PostgreSQL's clock) and owe
   * nothing; returns how many. One statement per batch; rows another transaction holds (a settlement or watch being
   * recorded under the trade's row lock) are skipped and taken by a later run. Idempotent: an erased trade is not
   * taken again. `updated_at` is left alone: nothing a party sees of the trade changes.
   */
  async eraseDue(retentionMs: number, limit: number): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      this.dataSource.manager,
      `UPDATE trades SET ${SNAPSHOT_COLUMNS.map((c) => `${c} = NULL`).join(', ')}, handles_erased_at = now()
        WHERE id IN (
          SELECT t.id FROM trades t
           WHERE t.handles_erased_at IS NULL AND t.ended_at IS NOT NULL
             -- A duration in SQL, as a double: 30 days (2.6e9 ms) is past a 32-bit integer.
             AND t.ended_at <= now() - $1::double precision * interval '1 millisecond'
             AND ${NOTHING_OWED}
           ORDER BY t.ended_at, t.id
           LIMIT $2
           FOR UPDATE OF t SKIP LOCKED)
        RETURNING id`,
      [retentionMs, limit],
    );
    return rows.length;
  }
}
