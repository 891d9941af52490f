import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { formatAmount } from '../common/money';
import { tradesConfig } from '../config';
import { LedgerRepository } from '../ledger/ledger.repository';
import { ENTRY } from '../ledger/ledger.service';
import type { TradeState } from './trade.state-machine';

export interface LedgerViolation {
  invariant: string;
  detail: string;
  tradeId?: string;
}

// While the USD is in escrow, whole: from funding until the provider confirms the settlement.
const ESCROW_HELD: TradeState[] = ['funded', 'payout_sent', 'disputed', 'releasing', 'refunding', 'splitting'];
// Ended after the USD was held: its escrow resolved exactly once.
const TERMINAL_FUNDED: TradeState[] = ['completed', 'refunded', 'settled_split'];

/** The ledger's invariants (SPEC.md, "Ledger"), checked against the books and the trades. Used by tests and operators. */
@Injectable()
export class LedgerCheckService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerRepository,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /** Reads everything in one REPEATABLE READ snapshot, so trades moving meanwhile are never reported half-moved. */
  async check(): Promise<{ ok: boolean; violations: LedgerViolation[] }> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      // Its own timeout: it reads the whole ledger, far longer than any request's statement may take.
      await manager.query(`SELECT set_config('statement_timeout', $1, true)`, [String(this.config.ledgerCheckTimeoutMs)]);
      return this.checkIn(manager);
    });
  }

  private async checkIn(manager: EntityManager): Promise<{ ok: boolean; violations: LedgerViolation[] }> {
    const violations: LedgerViolation[] = [];

    for (const row of await this.ledger.imbalance(manager)) {
      if (row.posted !== 0n || row.pending !== 0n) {
        violations.push({ invariant: 'entries_sum_to_zero', detail: `${row.currency}: posted ${row.posted}, pending ${row.pending}` });
      }
    }
    for (const account of await this.ledger.accountsDisagreeingWithTransfers(manager)) {
      violations.push({ invariant: 'balances_match_entries', detail: `account ${account} differs from its transfers` });
    }

    // Only the trades that break an invariant come back: one pass over trades and their ledger rows in
    // PostgreSQL, each set aggregated once and joined by hash, rather than every trade read into the process.
    const trades: {
      id: string;
      state: TradeState;
      settlement_failing: boolean;
      escrow: string;
      expected: string;
      holds: number;
      resolutions: number;
      payable_open: boolean;
    }[] = await manager.query(
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
      [ENTRY.hold, TERMINAL_FUNDED, ESCROW_HELD],
    );
    for (const trade of trades) {
      const held = BigInt(trade.escrow);
      const expected = BigInt(trade.expected);
      if (held !== expected) {
        violations.push({
          invariant: 'escrow_matches_state',
          tradeId: trade.id,
          detail: `escrow ${formatAmount(held, 'USD')} while ${trade.state}; expected ${formatAmount(expected, 'USD')}`,
        });
      }
      if (trade.holds > 1 || trade.resolutions > 1) {
        violations.push({
          invariant: 'escrow_resolved_once',
          tradeId: trade.id,
          detail: `${trade.holds} holds, ${trade.resolutions} resolutions`,
        });
      }
      const terminalFunded = TERMINAL_FUNDED.includes(trade.state);
      if (terminalFunded && trade.resolutions !== 1) {
        violations.push({
          invariant: 'escrow_resolved_once',
          tradeId: trade.id,
          detail: `terminal ${trade.state} with ${trade.resolutions} resolutions`,
        });
      }
      // A payout that came back after the end reopens the payable; the trade is flagged until it is paid again.
      if (terminalFunded && trade.payable_open && !trade.settlement_failing) {
        violations.push({ invariant: 'payables_cleared', tradeId: trade.id, detail: `a payable is still owed while ${trade.state}` });
      }
    }
    return { ok: violations.length === 0, violations };
  }
}
