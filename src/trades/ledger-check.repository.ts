import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { TradeState } from './trade.state-machine';

/** A trade as the ledger check sees it: its state, its escrow, and how its escrow was held and resolved. */
export interface CheckedTrade {
  id: string;
  state: TradeState;
  settlement_failing: boolean;
  escrow: string;
  expected: string;
  holds: number;
  resolutions: number;
  payable_open: boolean;
}

/** The ledger check's reads of trades against the books, inside the check's own snapshot. */
@Injectable()
export class LedgerCheckRepository {
  /** Its own timeout for this transaction: the check reads the whole ledger, far longer than any request's statement may take. */
  async setStatementTimeout(manager: EntityManager, ms: number): Promise<void> {
    await manager.query(`SELECT set_config('statement_timeout', $1, true)`, [String(ms)]);
  }

  /**
   * Only the trades that break an invariant come back: one pass over trades and their ledger rows in
   * PostgreSQL, each set aggregated once and joined by hash, rather than every trade read into the process.
   * `escrowHeld`: the states whose escrow holds the trade's whole amount; `terminalFunded`: the ends after
   * the USD was held, whose escrow was resolved exactly once.
   */
  async tradesBreakingInvariants(
    manager: EntityManager,
    states: { hold: string; terminalFunded: TradeState[]; escrowHeld: TradeState[] },
  ): Promise<CheckedTrade[]> {
    return manager.query(
      `WITH escrow AS (
         SELECT trade_id, sum(credits_posted - debits_posted + credits_pending - debits_pending) AS escrow
           FROM ledger_accounts WHERE kind = 'escrow' GROUP BY trade_id
       ), transfers AS (
         SELECT trade_id, count(*) FILTER (WHERE kind = $1)::int AS holds, count(*) FILTER (WHERE phase IN ('post', 'void'))::int AS resolutions
           FROM ledger_transfers WHERE trade_id IS NOT NULL GROUP BY trade_id
       ), payables AS (
         SELECT DISTINCT trade_id FROM ledger_accounts
          WHERE kind IN ('counterparty_payable', 'traveler_refund_payable') AND credits_posted <> debits_posted
       ), checked AS (
         SELECT t.id, t.state, t.settlement_failing, coalesce(e.escrow, 0) AS escrow,
                coalesce(x.holds, 0) AS holds, coalesce(x.resolutions, 0) AS resolutions, p.trade_id IS NOT NULL AS payable_open,
                t.state = ANY($2::text[]) AS terminal_funded,
                CASE WHEN t.state = ANY($3::text[]) THEN t.amount_usd ELSE 0 END AS expected
           FROM trades t
           LEFT JOIN escrow e ON e.trade_id = t.id
           LEFT JOIN transfers x ON x.trade_id = t.id
           LEFT JOIN payables p ON p.trade_id = t.id
       )
       SELECT id, state, settlement_failing, escrow::text, expected::text, holds, resolutions, payable_open FROM checked
        WHERE escrow <> expected OR holds > 1 OR resolutions > 1
           OR (terminal_funded AND (resolutions <> 1 OR (payable_open AND NOT settlement_failing)))
        ORDER BY id`,
      [states.hold, states.terminalFunded, states.escrowHeld],
    );
  }
}
