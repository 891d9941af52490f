import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { formatAmount } from '../common/money';
import { tradesConfig } from '../config';
import { LedgerRepository } from '../ledger/ledger.repository';
import { ENTRY } from '../ledger/ledger.service';
import { LedgerCheckRepository } from './ledger-check.repository';
import type { TradeState } from './trade.state-machine';
import { Transactions } from '../database/transactions';

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
    private readonly transactions: Transactions,
    private readonly ledger: LedgerRepository,
    private readonly checks: LedgerCheckRepository,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /** Reads everything in one REPEATABLE READ snapshot, so trades moving meanwhile are never reported half-moved. */
  async check(): Promise<{ ok: boolean; violations: LedgerViolation[] }> {
    return this.transactions.runRepeatableRead(async (manager) => {
      await this.checks.setStatementTimeout(manager, this.config.ledgerCheckTimeoutMs);
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

    // Only the trades that break an invariant come back, aggregated in PostgreSQL.
    const trades = await this.checks.tradesBreakingInvariants(manager, {
      hold: ENTRY.hold,
      terminalFunded: TERMINAL_FUNDED,
      escrowHeld: ESCROW_HELD,
    });
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
