import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { tradesConfig } from '../../config';
import { ENTRY, LedgerService, payoutAttemptEntry } from '../../ledger/ledger.service';
import { OutboxService } from '../../outbox/outbox.service';
import type { Trade } from '../../trades/trade.types';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { FundingRecord, FundingRepository } from '../funding/funding.repository';
import { SettlementMoves } from './settlement-moves';
import { STEPS } from './settlement-plan';
import { SettlementRepository } from './settlement.repository';
import { SettlementRun, watchMessage } from './settlement-run';
import { Transactions } from '../../database/transactions';

export type AfterTheEndOutcome = 'payout_returned' | 'repaid' | 'refund_returned' | 'refund_repaid' | 'watching' | 'nothing';

/**
 * An ended trade's money after the end. What may still change is watched until final (a payout left unclaimed,
 * which PayPal returns after 30 days; a bank return the receiving bank may send back): polled by its own job, not
 * left to webhooks. What came back is booked back to its payable, the trade flagged and its state unchanged; an
 * operator's retry starts the next attempt of each leg that came back, and the flag clears when nothing is owed.
 */
@Injectable()
export class AfterTheEnd {
  constructor(
    private readonly transactions: Transactions,
    private readonly fundings: FundingRepository,
    private readonly trades: TradeSettlementRepository,
    private readonly ledger: LedgerService,
    private readonly moves: SettlementMoves,
    private readonly journal: SettlementRepository,
    private readonly outbox: OutboxService,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  async run(run: SettlementRun, trade: Trade, funding: FundingRecord): Promise<AfterTheEndOutcome> {
    const outcomes: AfterTheEndOutcome[] = [];
    if (trade.state !== 'refunded') outcomes.push(await this.payout(run, trade, funding));
    if (trade.state !== 'completed' && funding.provider === 'bank_transfer') outcomes.push(await this.bankRefund(run, trade, funding));
    return outcomes.find((o) => o !== 'nothing' && o !== 'watching') ?? (outcomes.includes('watching') ? 'watching' : 'nothing');
  }

  private async payout(run: SettlementRun, trade: Trade, funding: FundingRecord): Promise<AfterTheEndOutcome> {
    const attempt = funding.payoutAttempt;
    if (funding.payoutReturned) return 'nothing';
    const netUsd = await this.moves.paidOutUsd(trade);
    if (attempt > 1 && !(await this.ledger.payoutRepaidAlready(trade.id, attempt))) {
      // An operator's retry: pay again.
      const payout = await run.step('payout', attempt, ({ funding: current, record }) => this.moves.payOut(trade, current, netUsd, record));
      return this.transactions.run(async (manager) => {
        // Under the trade's row lock: a webhook's job and the retry's may both get here; one books it.
        await this.trades.lockState(manager, trade.id);
        if (await this.ledger.payoutRepaidAlready(trade.id, attempt, manager)) return 'nothing';
        if (payout.outcome === 'came_back') {
          // Never paid: the payable is still open. This attempt is over, so the next retry can start.
          await this.fundings.markReturnedAfterEnd(manager, trade.id, 'payout', attempt);
          await this.moves.tellParties(manager, trade.id, { provider: 'paypal', payout: payout.itemStatus, attempt });
          return 'payout_returned';
        }
        await this.ledger.payoutRepaid(manager, trade.id, attempt, netUsd);
        await this.ledger.bookProviderFee(manager, trade.id, payoutAttemptEntry(ENTRY.payoutFee, attempt), payout.feeUsd);
        if (payout.outcome === 'left_us') await this.watch(manager, trade.id, 'watch_payout', attempt);
        await this.moves.clearFlagIfNothingOwed(manager, trade.id);
        return 'repaid';
      });
    }
    if (!funding.payoutBatchId) return 'nothing';
    const batch = await this.moves.payoutNow(funding.payoutBatchId);
    if (batch.outcome === 'came_back') {
      const booked = await this.transactions.run(async (manager) => {
        // The trade's row before its own rows and the ledger: the one lock order.
        await this.trades.lockState(manager, trade.id);
        const first = await this.moves.bookPayoutCameBack(manager, trade.id, attempt, netUsd, batch.itemStatus!);
        await this.journal.finish(manager, trade.id, 'watch_payout', attempt, batch.itemStatus);
        return first;
      });
      return booked ? 'payout_returned' : 'nothing';
    }
    if (batch.outcome === 'paid') {
      // Claimed at last: final. A flag its long wait raised comes down unless something else is owed.
      if (await this.journal.openWatch(trade.id, 'watch_payout', attempt)) {
        await this.transactions.run(async (manager) => {
          await this.trades.lockState(manager, trade.id);
          await this.journal.finish(manager, trade.id, 'watch_payout', attempt, batch.itemStatus);
          await this.moves.clearFlagIfNothingOwed(manager, trade.id);
        });
      }
      return 'nothing';
    }
    return this.stillWatching(trade.id, 'watch_payout', attempt, `payout ${batch.batchId} is ${batch.itemStatus ?? batch.batchStatus}`);
  }

  private async bankRefund(run: SettlementRun, trade: Trade, funding: FundingRecord): Promise<AfterTheEndOutcome> {
    if (!funding.bankTransferId || funding.refundReturned) return 'nothing';
    const attempt = funding.refundAttempt;
    const amountUsd =
      trade.state === 'refunded' ? trade.amountUsd : (await this.trades.splitOf(this.transactions.manager, trade.id))!.travelerUsd;
    if (attempt > 1 && !(await this.ledger.refundRepaidAlready(trade.id, attempt))) {
      // An operator's retry: send it again (the traveler's account open once more).
      const { cameBack } = await run.step('bank_return', attempt, ({ funding: current, record }) =>
        this.moves.returnToTraveler(trade, current, amountUsd, record),
      );
      return this.transactions.run(async (manager) => {
        await this.trades.lockState(manager, trade.id);
        if (await this.ledger.refundRepaidAlready(trade.id, attempt, manager)) return 'nothing';
        if (cameBack) {
          await this.fundings.markReturnedAfterEnd(manager, trade.id, 'refund', attempt);
          await this.moves.tellParties(manager, trade.id, { provider: 'bank_transfer', refund: 'returned', attempt });
          return 'refund_returned';
        }
        await this.ledger.refundRepaid(manager, trade.id, attempt, amountUsd);
        await this.watch(manager, trade.id, 'watch_bank_return', attempt);
        await this.moves.clearFlagIfNothingOwed(manager, trade.id);
        return 'refund_repaid';
      });
    }
    if (!funding.refundId) return 'nothing';
    const status = await this.moves.bankReturnNow(funding.refundId);
    if (status === 'returned') {
      const booked = await this.transactions.run(async (manager) => {
        await this.trades.lockState(manager, trade.id);
        const first = await this.moves.bookRefundCameBack(manager, trade.id, attempt, amountUsd, status);
        await this.journal.finish(manager, trade.id, 'watch_bank_return', attempt, status);
        return first;
      });
      return booked ? 'refund_returned' : 'nothing';
    }
    return this.stillWatching(trade.id, 'watch_bank_return', attempt, `bank return is ${status}`);
  }

  /**
   * Not final yet. A watch waited past its bound flags the trade (an unclaimed payout PayPal never returned); a
   * settled bank return watched for its whole window is final. An outcome found unwatched (its watch never
   * begun) is watched from now.
   */
  private async stillWatching(
    tradeId: string,
    step: 'watch_payout' | 'watch_bank_return',
    attempt: number,
    why: string,
  ): Promise<AfterTheEndOutcome> {
    if (!(await this.journal.openWatch(tradeId, step, attempt))) {
      if (await this.journal.everWatched(tradeId, step, attempt)) return 'nothing';
      await this.transactions.run((manager) => this.watch(manager, tradeId, step, attempt));
      return 'watching';
    }
    const { overdue, ageMs } = await this.journal.stall(tradeId, step, attempt, 'waiting', why);
    if (step === 'watch_bank_return' && ageMs >= this.config.bankReturnWatchMs) {
      await this.journal.finish(undefined, tradeId, step, attempt, null);
      return 'nothing';
    }
    if (overdue) await this.transactions.run((manager) => this.trades.flagReturnedAfterEnd(manager, tradeId));
    return 'watching';
  }

  /** Starts watching an outcome, in the transaction that recorded it: its journal row and the job that polls it. */
  async watch(manager: EntityManager, tradeId: string, step: 'watch_payout' | 'watch_bank_return', attempt: number): Promise<void> {
    const flagAfterMs = step === 'watch_payout' ? this.config.payoutWatchFlagAfterMs : null;
    await this.journal.beginWatch(manager, tradeId, step, attempt, STEPS[step].requestId(tradeId, attempt), flagAfterMs);
    await this.outbox.write(manager, watchMessage(tradeId, step, attempt, this.config));
  }
}
