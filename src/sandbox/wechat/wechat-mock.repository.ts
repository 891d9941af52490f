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

  /** The wallets among `ids` that exist, locked in id order. */
  lockWallets(manager: EntityManager, ids: string[]): Promise<{ wechat_id: string; balance_fen: string }[]> {
    return manager.query(`SELECT wechat_id, balance_fen FROM wechat_mock_wallets WHERE wechat_id = ANY($1) ORDER BY wechat_id FOR UPDATE`, [
      ids,
    ]);
  }

  /** Takes `amountFen` from one wallet and gives it to the other in one statement; with `to` null, only takes it. */
  async move(manager: EntityManager, from: string, to: string | null, amountFen: bigint): Promise<void> {
    await manager.query(
      `UPDATE wechat_mock_wallets SET balance_fen = balance_fen + CASE WHEN wechat_id = $1 THEN -$3::bigint ELSE $3::bigint END,
              updated_at = now()
        WHERE wechat_id = $1 OR wechat_id = $2`,
      [from, to, amountFen.toString()],
    );
  }

  async credit(manager: EntityManager, wechatId: string, amountFen: bigint): Promise<void> {
    await manager.query(`UPDATE wechat_mock_wallets SET balance_fen = balance_fen + $2, updated_at = now() WHERE wechat_id = $1`, [
      wechatId,
      amountFen.toString(),
    ]);
  }

  async insertTransfer(
    manager: EntityManager,
    transfer: { id: string; from: string; to: string; amountFen: bigint; memo: string | null; state: TransferRow['state'] },
  ): Promise<TransferRow> {
    const rows: TransferRow[] = await manager.query(
      `INSERT INTO wechat_mock_transfers (id, from_wechat_id, to_wechat_id, amount_fen, memo, state) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [transfer.id, transfer.from, transfer.to, transfer.amountFen.toString(), transfer.memo, transfer.state],
    );
    return rows[0];
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
