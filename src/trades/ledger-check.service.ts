import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { formatAmount } from '../common/money';
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

/** The ledger's invariants (SPEC.md, "Ledger"), checked against the books and the trades. Used by tests and operators. */
@Injectable()
export class LedgerCheckService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerRepository,
  ) {}

  /** Reads everything in one REPEATABLE READ snapshot, so trades moving meanwhile are never reported half-moved. */
  async check(): Promise<{ ok: boolean; violations: LedgerViolation[] }> {
    return this.dataSource.transaction('REPEATABLE READ', (manager) => this.checkIn(manager));
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

    const trades: {
      id: string;
      state: TradeState;
      amount_usd: string;
      settlement_failing: boolean;
      holds: number;
      resolutions: number;
      payable_open: boolean;
    }[] = await manager.query(`
      SELECT t.id, t.state, t.amount_usd, t.settlement_failing,
             (SELECT count(*) FROM ledger_transfers h WHERE h.trade_id = t.id AND h.kind = '${ENTRY.hold}')::int AS holds,
             (SELECT count(*) FROM ledger_transfers r WHERE r.trade_id = t.id AND r.phase IN ('post', 'void'))::int AS resolutions,
             EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.trade_id = t.id AND a.kind IN ('counterparty_payable', 'traveler_refund_payable')
                      AND a.credits_posted <> a.debits_posted) AS payable_open
        FROM trades t`);
    const escrow = new Map((await this.ledger.escrowBalances(manager)).map((e) => [e.tradeId, e.escrow]));
    for (const trade of trades) {
      const held = escrow.get(trade.id) ?? 0n;
      const expected = ESCROW_HELD.includes(trade.state) ? BigInt(trade.amount_usd) : 0n;
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
      const terminalFunded = ['completed', 'refunded', 'settled_split'].includes(trade.state);
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
