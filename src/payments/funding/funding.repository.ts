import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import {
  preparedAutocommit,
  preparedInTransaction,
  preparedQuery,
  preparedRead,
  returningRows,
  SqlParams,
} from '../../common/database/query';
import { NewOutboxRow, outboxInsertSql, outboxNotifySql } from '../../outbox/outbox.repository';
import type { TradeState } from '../../trades/trade.state-machine';
import type { Trade } from '../../trades/trade.types';
import { toTrade, tradeColumns, TradeRow } from '../../trades/trade-rows';
import { FUNDING_COLUMN_LIST, FundingRecord, fundingColumns, FundingRow as Row, toFundingRecord as toRecord } from './funding-rows';

export type { FundingRecord } from './funding-rows';

/** The prefix of the funding record's columns read beside its trade's. */
const WITH_TRADE = 'f_';

const STEPS = {
  authorization_id: true,
  capture_id: true,
  payout_batch_id: true,
  payout_item_id: true,
  bank_transfer_id: true,
  refund_id: true,
} as const;

export type AfterTheEndStep = 'payout' | 'refund';

const AFTER_THE_END_COLUMNS = {
  payout: { attempt: 'payout_attempt', returned: 'payout_returned', ids: ['payout_batch_id', 'payout_item_id'] },
  refund: { attempt: 'refund_attempt', returned: 'refund_returned', ids: ['refund_id'] },
} as const;

/** A trade's provider ids, and the provider events received. */
@Injectable()
export class FundingRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Records the order and writes the outbox row of its funding poll, in one statement sent in autocommit (the
   * change's whole transaction; its caller publishes the row by the id returned). A concurrent request that made
   * the same order (same PayPal-Request-Id) finds this row; its poll row has the same job id, queued once.
   */
  async recordOrder(
    tradeId: string,
    orderId: string,
    approveUrl: string | null,
    poll: NewOutboxRow,
  ): Promise<{ funding: FundingRecord; pollOutboxId: string }> {
    const params = new SqlParams();
    const rows = await preparedAutocommit<Partial<Row> & { poll_outbox_id: string }>(
      this.dataSource,
      `WITH inserted AS (
         INSERT INTO trade_fundings (trade_id, provider, order_id, approve_url)
         VALUES (${params.add(tradeId)}, 'paypal', ${params.add(orderId)}, ${params.add(approveUrl)})
         ON CONFLICT (trade_id) DO NOTHING RETURNING ${FUNDING_COLUMN_LIST}
       ), poll AS (${outboxInsertSql(poll, params)})
       SELECT inserted.*, (SELECT id FROM poll)::text AS poll_outbox_id, ${outboxNotifySql([poll], params)} AS notified
         FROM (SELECT 1) AS one LEFT JOIN inserted ON true`,
      params.values,
    );
    const row = rows[0];
    // Read only when the concurrent request's row was there first.
    const funding = row.trade_id ? toRecord(row as Row) : (await this.find(tradeId))!;
    return { funding, pollOutboxId: row.poll_outbox_id };
  }

  /** Records a bank transfer's reference; false when the reference is taken (the caller draws another). */
  async recordBankReference(tradeId: string, reference: string): Promise<boolean> {
    try {
      await this.dataSource.query(
        `INSERT INTO trade_fundings (trade_id, provider, bank_reference) VALUES ($1, 'bank_transfer', $2) ON CONFLICT (trade_id) DO NOTHING`,
        [tradeId, reference],
      );
      return true;
    } catch (error) {
      if ((error as { driverError?: { constraint?: string } }).driverError?.constraint === 'trade_fundings_bank_reference_key')
        return false;
      throw error;
    }
  }

  /** The trade (null for no such trade) and its funding record (null before any), in one read: what starting funding decides from. */
  async withTrade(tradeId: string): Promise<{ trade: Trade; funding: FundingRecord | null } | null> {
    const rows = await preparedRead<TradeRow & Record<string, unknown>>(
      this.dataSource,
      `SELECT ${tradeColumns('t')}, ${fundingColumns('f', WITH_TRADE)} FROM trades t LEFT JOIN trade_fundings f ON f.trade_id = t.id WHERE t.id = $1`,
      [tradeId],
    );
    const row = rows[0];
    if (!row) return null;
    return { trade: toTrade(row), funding: row[`${WITH_TRADE}trade_id`] ? toRecord(row, WITH_TRADE) : null };
  }

  async find(tradeId: string, manager?: EntityManager): Promise<FundingRecord | null> {
    const rows = await preparedQuery<Row>(
      this.dataSource,
      manager,
      `SELECT ${FUNDING_COLUMN_LIST} FROM trade_fundings WHERE trade_id = $1`,
      [tradeId],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /**
   * What a funding check starts from, in one read: the funding row (null before any), the trade's state (null for no
   * such trade) and the blind index of the counterparty's PayPal email as snapshotted, which finds a self-trade.
   */
  async checkView(
    tradeId: string,
  ): Promise<{ funding: FundingRecord | null; state: TradeState | null; counterpartyPaypalIndex: string | null }> {
    const rows = await preparedRead<Row & { trade_state: TradeState; trade_counterparty_paypal_index: string | null }>(
      this.dataSource,
      `SELECT ${fundingColumns('f', '')}, t.state AS trade_state, t.counterparty_paypal_index AS trade_counterparty_paypal_index
         FROM trades t LEFT JOIN trade_fundings f ON f.trade_id = t.id WHERE t.id = $1`,
      [tradeId],
    );
    const row = rows[0];
    if (!row) return { funding: null, state: null, counterpartyPaypalIndex: null };
    return {
      funding: row.trade_id ? toRecord(row) : null,
      state: row.trade_state,
      counterpartyPaypalIndex: row.trade_counterparty_paypal_index,
    };
  }

  /**
   * A check that read the pending mark ends: cleared if no webhook asked since the check read `requests` (any count
   * when null); false when one did, and the check must look again for it.
   */
  async finishCheck(tradeId: string, requests: string | null): Promise<boolean> {
    const rows = await preparedAutocommit(
      this.dataSource,
      `UPDATE trade_fundings SET check_pending_job = NULL, check_pending_since = NULL
        WHERE trade_id = $1 AND ($2::bigint IS NULL OR check_requests = $2::bigint) RETURNING trade_id`,
      [tradeId, requests],
    );
    return rows.length === 1;
  }

  /**
   * The trade's row locked for the rest of the caller's transaction (lock order: the trade, then its funding record)
   * and its state as locked; if it awaits funding, the authorization recorded in the same statement, which clears any
   * pending check (the caller funds the trade in this transaction). Null for no such trade.
   */
  async lockAndRecordAuthorization(manager: EntityManager, tradeId: string, authorizationId: string): Promise<TradeState | null> {
    const rows = await preparedInTransaction<{ state: TradeState | null }>(
      manager,
      `WITH locked AS MATERIALIZED (SELECT state FROM trades WHERE id = $1 FOR UPDATE),
            recorded AS (
              UPDATE trade_fundings SET authorization_id = coalesce(authorization_id, $2), check_pending_job = NULL,
                     check_pending_since = NULL, updated_at = now()
               WHERE trade_id = $1 AND EXISTS (SELECT 1 FROM locked WHERE state = 'awaiting_funding') RETURNING trade_id)
       SELECT (SELECT state FROM locked) AS state`,
      [tradeId, authorizationId],
    );
    return rows[0]?.state ?? null;
  }

  async tradeOf(
    column: 'order_id' | 'authorization_id' | 'payout_item_id' | 'bank_reference' | 'bank_transfer_id',
    value: string,
  ): Promise<string | null> {
    const rows = await this.dataSource.query(`SELECT trade_id FROM trade_fundings WHERE ${column} = $1`, [value]);
    return rows[0]?.trade_id ?? null;
  }

  /** Records one step's provider id, once: what a step did is never overwritten by a retry. */
  async recordStep(manager: EntityManager, tradeId: string, column: keyof typeof STEPS, value: string): Promise<void> {
    await this.recordSteps(manager, tradeId, { [column]: value });
  }

  /**
   * Records the provider's ids of one step (each kept if already recorded) in one statement: on its own, with no
   * transaction, when `manager` is omitted.
   */
  async recordSteps(
    manager: EntityManager | undefined,
    tradeId: string,
    values: Partial<Record<keyof typeof STEPS, string>>,
  ): Promise<void> {
    const columns = Object.keys(values) as (keyof typeof STEPS)[];
    for (const column of columns) if (!STEPS[column]) throw new Error(`Unknown step ${column}`);
    if (columns.length === 0) return;
    await (manager ?? this.dataSource.manager).query(
      `UPDATE trade_fundings SET ${columns.map((column, i) => `${column} = coalesce(${column}, $${i + 2})`).join(', ')}, updated_at = now()
        WHERE trade_id = $1`,
      [tradeId, ...columns.map((column) => values[column])],
    );
  }

  /**
   * Records a step only if none is recorded yet; true for the caller that recorded it (the row lock decides a race).
   * The trade's row is locked first, for the rest of the caller's transaction, by the same statement (lock order:
   * the trade, then its funding record; the lock gates the update as a one-time filter).
   */
  async lockTradeAndRecordFirst(manager: EntityManager, tradeId: string, column: keyof typeof STEPS, value: string): Promise<boolean> {
    if (!STEPS[column]) throw new Error(`Unknown step ${column}`);
    const rows = await preparedInTransaction(
      manager,
      `WITH locked AS MATERIALIZED (SELECT 1 FROM trades WHERE id = $1 FOR UPDATE)
       UPDATE trade_fundings SET ${column} = $2, updated_at = now()
        WHERE trade_id = $1 AND ${column} IS NULL AND EXISTS (SELECT 1 FROM locked) RETURNING trade_id`,
      [tradeId, value],
    );
    return rows.length > 0;
  }

  /** A payout or a bank refund that came back after the end: true for the caller that marked it (it is booked back once). */
  async markReturnedAfterEnd(manager: EntityManager, tradeId: string, what: AfterTheEndStep, attempt: number): Promise<boolean> {
    const { attempt: attemptColumn, returned } = AFTER_THE_END_COLUMNS[what];
    const rows = await returningRows(
      manager,
      `UPDATE trade_fundings SET ${returned} = true, updated_at = now()
        WHERE trade_id = $1 AND ${attemptColumn} = $2 AND NOT ${returned} RETURNING trade_id`,
      [tradeId, attempt],
    );
    return rows.length === 1;
  }

  /** An operator's retry of what came back: the next attempt, with no provider ids yet. False if nothing came back. */
  async startNextAttempt(manager: EntityManager, tradeId: string, what: AfterTheEndStep): Promise<boolean> {
    const { attempt, returned, ids } = AFTER_THE_END_COLUMNS[what];
    const rows = await returningRows(
      manager,
      `UPDATE trade_fundings SET ${attempt} = ${attempt} + 1, ${returned} = false, ${ids.map((id) => `${id} = NULL`).join(', ')},
              updated_at = now()
        WHERE trade_id = $1 AND ${returned} RETURNING trade_id`,
      [tradeId],
    );
    return rows.length === 1;
  }
}
