import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRow } from '../../common/database/query';

export interface TransferRow {
  id: string;
  from_wechat_id: string;
  to_wechat_id: string;
  amount_fen: string;
  memo: string | null;
  state: 'PROCESSING' | 'SUCCESS' | 'FAIL';
  create_time: Date;
  update_time: Date;
}

/** The WeChat mock's wallets and the transfers between them. */
@Injectable()
export class WechatMockRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async setWallet(wechatId: string, balanceFen: bigint): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO wechat_mock_wallets (wechat_id, balance_fen) VALUES ($1, $2)
       ON CONFLICT (wechat_id) DO UPDATE SET balance_fen = EXCLUDED.balance_fen, updated_at = now()`,
      [wechatId, balanceFen.toString()],
    );
  }

  async balance(wechatId: string): Promise<bigint | undefined> {
    const rows: { balance_fen: string }[] = await this.dataSource.query(
      `SELECT balance_fen FROM wechat_mock_wallets WHERE wechat_id = $1`,
      [wechatId],
    );
    return rows[0] ? BigInt(rows[0].balance_fen) : undefined;
  }

  /**
   * A transfer in one statement: both wallets locked in id order, the sender's balance checked, the amount taken from
   * it and (unless `credited` is false: a PROCESSING transfer) given to the receiver, and the transfer recorded. When a
   * wallet is missing (`wallets` false) or the sender holds too little (`covered` false), nothing is written.
   */
  async transfer(
    manager: EntityManager,
    transfer: { id: string; from: string; to: string; amountFen: bigint; memo: string | null; state: TransferRow['state'] },
    credited: boolean,
  ): Promise<{ wallets: boolean; covered: boolean; transfer?: TransferRow }> {
    // The aggregate reads (and so locks) both wallets before the update starts, which then runs only if it passed.
    const rows: ({ wallets: boolean; covered: boolean } & Partial<TransferRow>)[] = await manager.query(
      `WITH locked AS (
         SELECT wechat_id, balance_fen FROM wechat_mock_wallets WHERE wechat_id = $2 OR wechat_id = $3 ORDER BY wechat_id FOR UPDATE
       ), checked AS (
         SELECT count(*) = 2 AS wallets, coalesce(bool_or(wechat_id = $2 AND balance_fen >= $4::bigint), false) AS covered FROM locked
       ), moved AS (
         UPDATE wechat_mock_wallets SET balance_fen = balance_fen + CASE WHEN wechat_id = $2 THEN -$4::bigint ELSE $4::bigint END,
                updated_at = now()
          WHERE (wechat_id = $2 OR (wechat_id = $3 AND $7::boolean)) AND (SELECT wallets AND covered FROM checked)
       ), made AS (
         INSERT INTO wechat_mock_transfers (id, from_wechat_id, to_wechat_id, amount_fen, memo, state)
         SELECT $1, $2, $3, $4, $5, $6 WHERE (SELECT wallets AND covered FROM checked) RETURNING *
       )
       SELECT checked.wallets, checked.covered, made.* FROM checked LEFT JOIN made ON true`,
      [transfer.id, transfer.from, transfer.to, transfer.amountFen.toString(), transfer.memo, transfer.state, credited],
    );
    const { wallets, covered, ...made } = rows[0];
    return { wallets, covered, transfer: made.id ? (made as TransferRow) : undefined };
  }

  async credit(manager: EntityManager, wechatId: string, amountFen: bigint): Promise<void> {
    await manager.query(`UPDATE wechat_mock_wallets SET balance_fen = balance_fen + $2, updated_at = now() WHERE wechat_id = $1`, [
      wechatId,
      amountFen.toString(),
    ]);
  }

  /** PROCESSING → SUCCESS; undefined when the transfer was not PROCESSING. */
  async succeed(manager: EntityManager, transferId: string): Promise<TransferRow | undefined> {
    return returningRow<TransferRow>(
      manager,
      `UPDATE wechat_mock_transfers SET state = 'SUCCESS', update_time = now() WHERE id = $1 AND state = 'PROCESSING' RETURNING *`,
      [transferId],
    );
  }

  async findTransfer(id: string): Promise<TransferRow | undefined> {
    const rows: TransferRow[] = await this.dataSource.query(`SELECT * FROM wechat_mock_transfers WHERE id = $1`, [id]);
    return rows[0];
  }

  /** The latest 100 transfers from one wallet to another since a time, newest first. */
  searchTransfers(from: string, to: string, since: Date): Promise<TransferRow[]> {
    return this.dataSource.query(
      `SELECT * FROM wechat_mock_transfers WHERE from_wechat_id = $1 AND to_wechat_id = $2 AND create_time >= $3
        ORDER BY create_time DESC LIMIT 100`,
      [from, to, since],
    );
  }
}
