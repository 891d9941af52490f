import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { EncryptedField } from '../common/crypto/field-encryption';
import { preparedAutocommit, preparedInTransaction, preparedRead } from '../common/database/query';
import type { Actor } from './trade.types';
import type { TradeState } from './trade.state-machine';

/** The payment handles a trade keeps (snapshotted when it was made), by the name API.md gives them. */
export const HANDLE_FIELDS = ['travelerWechatId', 'counterpartyWechatId', 'counterpartyPaypalEmail'] as const;
export type HandleField = (typeof HANDLE_FIELDS)[number];

/** Each field's snapshot columns on `trades`. Never from input: the field is checked against HANDLE_FIELDS first. */
const COLUMNS: Record<HandleField, { ciphertext: string; keyId: string }> = {
  travelerWechatId: { ciphertext: 'traveler_wechat_ciphertext', keyId: 'traveler_wechat_key_id' },
  counterpartyWechatId: { ciphertext: 'counterparty_wechat_ciphertext', keyId: 'counterparty_wechat_key_id' },
  counterpartyPaypalEmail: { ciphertext: 'counterparty_paypal_ciphertext', keyId: 'counterparty_paypal_key_id' },
};

/** One first showing of a handle: who saw which field, in which state of the trade. */
export interface RevealMarker {
  tradeId: string;
  state: TradeState;
  viewerId: string;
  field: HandleField;
}

/** A trade's snapshot of one handle: null when it was erased after retention. */
export interface KeptHandle {
  state: TradeState;
  handle: EncryptedField | null;
  erasedAt: Date | null;
}

/** Reveals of payment handles: the per-trade, state and viewer markers, their timeline events, and the snapshots read. */
@Injectable()
export class HandleRevealsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Whether this handle was already shown to this viewer in this state (one primary-key read). */
  async marked(marker: RevealMarker): Promise<boolean> {
    const rows = await preparedRead(
      this.dataSource,
      `SELECT 1 FROM trade_handle_reveals WHERE trade_id = $1 AND state = $2 AND viewer_id = $3 AND field = $4`,
      [marker.tradeId, marker.state, marker.viewerId, marker.field],
    );
    return rows.length > 0;
  }

  /**
   * The marker and its `handle_revealed` event, in one statement, only if the marker was not there: of any number
   * of concurrent first reads, the primary key lets one insert it (the others wait for it, then do nothing), so
   * exactly one event is written. Returns whether this call wrote it. In the caller's transaction when given one
   * (the change that put the trade in the marker's state), in autocommit otherwise.
   */
  async markFirst(marker: RevealMarker, actor: Actor, detail: Record<string, unknown>, manager?: EntityManager): Promise<boolean> {
    const write = <T>(sql: string, params: unknown[]) =>
      manager ? preparedInTransaction<T>(manager, sql, params) : preparedAutocommit<T>(this.dataSource, sql, params);
    const rows = await write<{ id: string }>(
      `WITH marker AS (
         INSERT INTO trade_handle_reveals (trade_id, state, viewer_id, field) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING trade_id
       )
       INSERT INTO trade_events (trade_id, actor_kind, actor_id, type, from_state, to_state, detail)
       SELECT trade_id, $5, $6, 'handle_revealed', NULL, NULL, $7 FROM marker
       RETURNING id`,
      [marker.tradeId, marker.state, marker.viewerId, marker.field, actor.kind, actor.id, detail],
    );
    return rows.length > 0;
  }

  /** The trade's snapshot of one handle, read in the caller's transaction; null when there is no such trade. */
  async kept(manager: EntityManager, tradeId: string, field: HandleField): Promise<KeptHandle | null> {
    const columns = COLUMNS[field];
    const rows: { state: TradeState; ciphertext: string | null; key_id: string | null; handles_erased_at: Date | null }[] =
      await manager.query(
        `SELECT state, ${columns.ciphertext} AS ciphertext, ${columns.keyId} AS key_id, handles_erased_at FROM trades WHERE id = $1`,
        [tradeId],
      );
    const row = rows[0];
    if (!row) return null;
    return {
      state: row.state,
      handle: row.ciphertext && row.key_id ? { ciphertext: row.ciphertext, keyId: row.key_id } : null,
      erasedAt: row.handles_erased_at,
    };
  }
}
