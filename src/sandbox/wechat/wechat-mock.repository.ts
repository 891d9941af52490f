import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRow, SqlParams } from '../../common/database/query';
import type { NewOutboxRow } from '../../outbox/outbox.repository';
import { changeMadeSql, outboxCtes, runChange } from '../sandbox-statement';

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
   * A transfer and its outbox rows (its notification, or its settlement when PROCESSING) in one statement sent in
   * autocommit: both wallets locked in id order, the sender's balance checked, the amount taken from it and (unless
   * `credited` is false: a PROCESSING transfer) given to the receiver, the transfer recorded as `transfer` (made whole
   * by the caller). Answers the outbox rows' ids; undefined, and nothing written, when a wallet is missing or the
   * sender holds too little.
   */
  async transfer(transfer: TransferRow, credited: boolean, jobs: NewOutboxRow[]): Promise<string[] | undefined> {
    const params = new SqlParams();
    const [id, from, to, amount] = [transfer.id, transfer.from_wechat_id, transfer.to_wechat_id, transfer.amount_fen].map((value) =>
      params.add(value),
    );
    const at = params.add(transfer.create_time);
    const outbox = outboxCtes(jobs, params);
    // The aggregate reads (and so locks) both wallets before the update starts, which then runs only if it passed.
    const sql = `WITH locked AS (
         SELECT wechat_id, balance_fen FROM wechat_mock_wallets WHERE wechat_id = ${from} OR wechat_id = ${to} ORDER BY wechat_id FOR UPDATE
       ), checked AS (
         SELECT count(*) = 2 AND coalesce(bool_or(wechat_id = ${from} AND balance_fen >= ${amount}::bigint), false) AS passed FROM locked
       ), moved AS (
         UPDATE wechat_mock_wallets SET balance_fen = balance_fen + CASE WHEN wechat_id = ${from} THEN -${amount}::bigint ELSE ${amount}::bigint END,
                updated_at = ${at}
          WHERE (wechat_id = ${from} OR (wechat_id = ${to} AND ${params.add(credited)}::boolean)) AND (SELECT passed FROM checked)
       ), made AS (
         INSERT INTO wechat_mock_transfers (id, from_wechat_id, to_wechat_id, amount_fen, memo, state, create_time, update_time)
         SELECT ${id}, ${from}, ${to}, ${amount}::bigint, ${params.add(transfer.memo)}, ${params.add(transfer.state)}, ${at}, ${at}
          WHERE (SELECT passed FROM checked) RETURNING 1
       )${outbox.ctes}
       SELECT ${changeMadeSql('SELECT count(*) FROM made')} AS made, ${outbox.columns}`;
    return runChange(this.dataSource, sql, params);
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
