import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedRead, returningRows } from '../common/database/query';
import { TradeEvents } from './trade-events';
import type { Trade } from './trade.types';
import type { TradeState } from './trade.state-machine';
import { DeadlineColumn, TradesRepository } from './trades.repository';

/** A trade's RMB leg as `TradeSettlementRepository.rmbLegOf` reads it. */
export interface RmbLeg {
  state: TradeState;
  /** The CNY the transfer must be for, in fen; fixed when the trade was made. */
  amountCny: bigint;
  createdAt: Date;
  traveler: { ciphertext: string; keyId: string; index: string };
  counterparty: { ciphertext: string; keyId: string; index: string };
  wechatTransferId: string | null;
  fundedAt: Date | null;
}

/** The RMB leg's columns as `rmbLegOf` reads them. */
interface RmbLegRow {
  state: TradeState;
  amount_cny: string;
  created_at: Date;
  traveler_wechat_ciphertext: string;
  traveler_wechat_key_id: string;
  traveler_wechat_index: string;
  counterparty_wechat_ciphertext: string;
  counterparty_wechat_key_id: string;
  counterparty_wechat_index: string;
  wechat_transfer_id: string | null;
  funded_at: Date | null;
}

/**
 * What payments may read and flag of a trade, and nothing more: the trade and its state (locked in the trades
 * lock order), the snapshotted payout and refund destinations, and the settlement flag operators see. A trade's
 * state changes only through the trades module's transitions.
 */
@Injectable()
export class TradeSettlementRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly trades: TradesRepository,
    private readonly events: TradeEvents,
  ) {}

  find(id: string, manager?: EntityManager): Promise<Trade | null> {
    return this.trades.find(id, manager);
  }

  /** The trade's state, its row locked for the rest of the caller's transaction. */
  lockState(manager: EntityManager, tradeId: string): Promise<TradeState | null> {
    return this.trades.lockState(manager, tradeId);
  }

  splitOf(manager: EntityManager, tradeId: string): Promise<{ travelerUsd: bigint; counterpartyUsd: bigint } | null> {
    return this.trades.splitOf(manager, tradeId);
  }

  /** How long until the trade's deadline, by PostgreSQL's clock at this moment (see TradesRepository). */
  untilDeadline(tradeId: string, state: TradeState, due: DeadlineColumn, manager?: EntityManager): Promise<number | null> {
    return this.trades.untilDeadline(tradeId, state, due, manager);
  }

  /**
   * Raises the flag operators see on a settlement that keeps failing, only while the trade is still settling; the
   * parties are told (`trade.settlement_failing`) when it turns on.
   */
  async flagSettlementFailing(tradeId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const flagged = await returningRows<{ id: string }>(
        manager,
        `UPDATE trades SET settlement_failing = true, updated_at = now()
          WHERE id = $1 AND NOT settlement_failing AND state IN ('releasing', 'refunding', 'splitting') RETURNING id`,
        [tradeId],
      );
      await this.settlementFailing(manager, flagged);
    });
  }

  /** The parties' `trade.settlement_failing` event of each trade whose flag just turned on, in the flagging transaction. */
  async settlementFailing(manager: EntityManager, flagged: readonly { id: string }[]): Promise<void> {
    await this.events.recordFor(
      manager,
      'trade.settlement_failing',
      flagged.map((row) => row.id),
    );
  }

  /** How many trades are flagged, from the partial index on the flag (a handful at most). */
  async countSettlementFailing(): Promise<number> {
    const rows = await this.dataSource.query(`SELECT count(*)::int AS n FROM trades WHERE settlement_failing`);
    return rows[0].n;
  }

  /** Clears the flag, in the transaction that completes the settlement. */
  async clearSettlementFailing(manager: EntityManager, tradeId: string): Promise<void> {
    await manager.query(`UPDATE trades SET settlement_failing = false WHERE id = $1 AND settlement_failing`, [tradeId]);
  }

  /**
   * The RMB leg as snapshotted when the trade was made: both wallets (ciphertexts and blind indexes, never
   * decrypted here), the reported transfer, and when it was funded (where a search for a transfer starts); with
   * the trade's state, CNY and creation, read in the same statement, so a verification reads the trade once.
   */
  async rmbLegOf(tradeId: string): Promise<RmbLeg | null> {
    const rows = await preparedRead<RmbLegRow>(
      this.dataSource,
      `SELECT state, amount_cny, created_at, traveler_wechat_ciphertext, traveler_wechat_key_id, traveler_wechat_index,
              counterparty_wechat_ciphertext, counterparty_wechat_key_id, counterparty_wechat_index, wechat_transfer_id, funded_at
         FROM trades WHERE id = $1`,
      [tradeId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      state: r.state,
      amountCny: BigInt(r.amount_cny),
      createdAt: r.created_at,
      traveler: { ciphertext: r.traveler_wechat_ciphertext, keyId: r.traveler_wechat_key_id, index: r.traveler_wechat_index },
      counterparty: {
        ciphertext: r.counterparty_wechat_ciphertext,
        keyId: r.counterparty_wechat_key_id,
        index: r.counterparty_wechat_index,
      },
      wechatTransferId: r.wechat_transfer_id,
      fundedAt: r.funded_at,
    };
  }

  async tradeOfWechatTransfer(transferId: string): Promise<string | null> {
    const rows = await this.dataSource.query(`SELECT id FROM trades WHERE wechat_transfer_id = $1`, [transferId]);
    return rows[0]?.id ?? null;
  }

  /** The counterparty's PayPal email as snapshotted when the trade was made (ciphertext, never decrypted here). */
  async counterpartyPaypalOf(tradeId: string): Promise<{ ciphertext: string; keyId: string } | null> {
    const rows = await this.dataSource.query(
      `SELECT counterparty_paypal_ciphertext, counterparty_paypal_key_id FROM trades WHERE id = $1`,
      [tradeId],
    );
    // An erased snapshot is no email to pay.
    return rows[0]?.counterparty_paypal_ciphertext
      ? { ciphertext: rows[0].counterparty_paypal_ciphertext, keyId: rows[0].counterparty_paypal_key_id }
      : null;
  }

  /** The counterparty's PayPal email on file now (a payout paid again goes where they have since put it). */
  async counterpartyCurrentPaypalOf(tradeId: string): Promise<{ ciphertext: string; keyId: string } | null> {
    const rows = await this.dataSource.query(
      `SELECT u.paypal_email_ciphertext, u.paypal_email_key_id FROM trades t JOIN users u ON u.id = t.counterparty_id WHERE t.id = $1`,
      [tradeId],
    );
    return rows[0]?.paypal_email_ciphertext ? { ciphertext: rows[0].paypal_email_ciphertext, keyId: rows[0].paypal_email_key_id } : null;
  }

  /**
   * Flags an ended trade whose payout or bank refund came back: operators see it and pay it again; its state stays.
   * In a transaction: the parties' event commits with the flag.
   */
  async flagReturnedAfterEnd(manager: EntityManager, tradeId: string): Promise<void> {
    const flagged = await returningRows<{ id: string }>(
      manager,
      `UPDATE trades SET settlement_failing = true, updated_at = now() WHERE id = $1 AND NOT settlement_failing RETURNING id`,
      [tradeId],
    );
    await this.settlementFailing(manager, flagged);
  }
}
