import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { applyBps } from '../../common/money';
import { tradesConfig } from '../../config';
import { ENTRY, LedgerService } from '../../ledger/ledger.service';
import type { Trade } from '../../trades/trade.types';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { TradeTransitionsService } from '../../trades/trade-transitions.service';
import { FundingRecord, FundingRepository } from '../funding/funding.repository';
import { AfterTheEnd, AfterTheEndOutcome } from './after-the-end';
import { SettlementMoves, SettledPayout } from './settlement-moves';
import { applicableSteps, isEnded, isSettling, planFor, SettlingState, StepName } from './settlement-plan';
import { SettlementRepository } from './settlement.repository';
import { SettlementBusy, SettlementRun, StepFinish } from './settlement-run';
import { Transactions } from '../../database/transactions';

type Settled = 'completed' | 'refunded' | 'settled_split';

/** What the steps of one run found, for the transaction that completes the trade. */
interface StepResults {
  captureId?: string;
  voided?: boolean;
  refundId?: string;
  bankReturn?: { returnId: string; cameBack: boolean };
  payout?: SettledPayout;
}

/**
 * Moves a decided trade's USD at its provider by walking the trade's plan (`settlement-plan.ts`): one step at a
 * time, provider call first, then a short transaction recording what it did, each step journaled in
 * `settlement_steps`. One run per trade at a time (a claim on its funding row); a step waiting or failing past its
 * bound flags the trade. When the last step is done, one transaction completes the trade with its ledger entries,
 * and starts watching any outcome that may still change after the end.
 */
@Injectable()
export class SettlementService {
  constructor(
    private readonly transactions: Transactions,
    private readonly fundings: FundingRepository,
    private readonly trades: TradeSettlementRepository,
    private readonly tradesService: TradeTransitionsService,
    private readonly ledger: LedgerService,
    private readonly moves: SettlementMoves,
    private readonly journal: SettlementRepository,
    private readonly afterTheEnd: AfterTheEnd,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  async settle(tradeId: string): Promise<Settled | AfterTheEndOutcome | 'nothing'> {
    const trade = await this.trades.find(tradeId);
    if (!trade || !(isSettling(trade.state) || isEnded(trade.state))) return 'nothing';
    // The claim lives on the funding record: a trade never funded has nothing to settle.
    if (!(await this.fundings.find(tradeId))) return 'nothing';
    return this.claimed(tradeId, async (run) => {
      // Read again under the claim: a run that held it may have moved the trade on.
      const current = (await this.trades.find(tradeId))!;
      const funding = await this.fundings.find(tradeId);
      if (!funding) return 'nothing';
      if (isEnded(current.state)) return this.afterTheEnd.run(run, current, funding);
      if (!isSettling(current.state)) return 'nothing';
      return this.runPlan(run, current, current.state, funding);
    });
  }

  /**
   * Before PayPal's honour period ends, a trade still holding its authorization (funded, waiting on the payout
   * or a dispute) has it captured into escrow; release then pays out of the capture, refund refunds it.
   * Settling and ended trades are left to their own steps.
   */
  async captureIntoEscrow(tradeId: string): Promise<'captured' | 'nothing'> {
    const funding = await this.fundings.find(tradeId);
    if (!funding?.authorizationId || funding.captureId) return 'nothing';
    return this.claimed(tradeId, async (run) => {
      const trade = await this.trades.find(tradeId);
      const current = await this.fundings.find(tradeId);
      // Captured meanwhile: its finish was journaled with the capture's record.
      if (current?.captureId) return 'nothing';
      if (!trade || !current || !['funded', 'payout_sent', 'disputed'].includes(trade.state)) return 'nothing';
      await run.step('capture', 1, () => this.moves.capture(tradeId, funding.authorizationId!), 'recorded');
      return 'captured';
    });
  }

  /** Runs `work` holding the trade's settlement claim; another run holding it → SettlementBusy (the job tries again later). */
  private async claimed<T>(tradeId: string, work: (run: SettlementRun) => Promise<T>): Promise<T> {
    const token = randomUUID();
    if (!(await this.journal.claim(tradeId, token, this.config.settlementClaimLeaseMs))) throw new SettlementBusy(tradeId);
    const run = new SettlementRun(tradeId, token, this.journal, this.trades, this.config);
    try {
      return await work(run);
    } finally {
      if (!run.released) await this.journal.release(tradeId, token);
    }
  }

  private async runPlan(run: SettlementRun, trade: Trade, state: SettlingState, initial: FundingRecord): Promise<Settled | 'nothing'> {
    // A PayPal trade never authorized, or a bank trade never funded by a transfer, has nothing to settle.
    if (initial.provider === 'paypal' && !initial.authorizationId) return 'nothing';
    if (initial.provider === 'bank_transfer' && !initial.bankTransferId) return 'nothing';
    const split = state === 'splitting' ? await this.trades.splitOf(this.transactions.manager, trade.id) : null;
    if (state === 'splitting' && !split) return 'nothing';
    const results: StepResults = {};
    let funding = initial;
    const plan = planFor(funding.provider, state);
    for (const step of plan) {
      // Each step sees what the steps before it recorded (a void that found a capture makes the refund apply). A
      // capture recorded already (into escrow, or by an earlier run) was journaled done with its record.
      if (!applicableSteps([step], { captured: !!funding.captureId }).length) continue;
      // The capture's finish commits with its record; the last step's with the transaction that ends the trade.
      const finish = step === 'capture' ? 'recorded' : step === plan[plan.length - 1] ? 'at_end' : 'now';
      await this.runStep(run, trade, funding, step, split, results, finish);
      funding = (await this.fundings.find(trade.id))!;
    }
    return this.complete(run, trade, state, funding, split, results);
  }

  private async runStep(
    run: SettlementRun,
    trade: Trade,
    funding: FundingRecord,
    step: StepName,
    split: { travelerUsd: bigint; counterpartyUsd: bigint } | null,
    results: StepResults,
    finish: StepFinish,
  ): Promise<void> {
    switch (step) {
      case 'capture':
        results.captureId = await run.step('capture', 1, () => this.moves.capture(trade.id, funding.authorizationId!), finish);
        return;
      case 'void': {
        const outcome = await run.step('void', 1, () => this.moves.voidOrRecoverCapture(trade.id, funding.authorizationId!), finish);
        results.voided = outcome.voided;
        if (outcome.captureId) results.captureId = outcome.captureId;
        return;
      }
      case 'refund':
        results.refundId = await run.step(
          'refund',
          1,
          (retried) => this.moves.refundCapture(trade.id, funding, funding.captureId!, split ? split.travelerUsd : undefined, retried),
          finish,
        );
        return;
      case 'bank_return':
        results.bankReturn = await run.step(
          'bank_return',
          funding.refundAttempt,
          () => this.moves.returnToTraveler(trade, funding, split ? split.travelerUsd : trade.amountUsd),
          finish,
        );
        results.refundId = results.bankReturn.returnId;
        return;
      case 'payout':
        results.payout = await run.step(
          'payout',
          funding.payoutAttempt,
          () => this.moves.payOut(trade, funding, this.netToCounterparty(trade, split)),
          finish,
        );
        return;
      default:
        throw new Error(`Step ${step} does not settle a trade`);
    }
  }

  /** What the counterparty is paid: the trade's USD less its fee, or their part of a split less the same basis points of it. */
  private netToCounterparty(trade: Trade, split: { counterpartyUsd: bigint } | null): bigint {
    if (!split) return trade.amountUsd - trade.feeUsd;
    return split.counterpartyUsd - applyBps(split.counterpartyUsd, trade.feeBps);
  }

  /** Every step is done: one transaction completes the trade, books what came back at once, starts the watches and gives the claim up. */
  private async complete(
    run: SettlementRun,
    trade: Trade,
    state: SettlingState,
    funding: FundingRecord,
    split: { travelerUsd: bigint; counterpartyUsd: bigint } | null,
    results: StepResults,
  ): Promise<Settled> {
    const payout = results.payout;
    const netUsd = this.netToCounterparty(trade, split);
    const settled = await this.transactions.run(async (manager) => {
      // The transition comes first: it takes the users' and the trade's rows before anything else (the one lock
      // order). What follows writes the trade's own rows after its ledger entries; no transaction holds one of
      // those rows while waiting for the ledger without holding the trade's row first, so this cannot cycle.
      if (state === 'releasing') {
        await this.tradesService.completeRelease(manager, trade.id, {
          provider: funding.provider,
          ...(funding.captureId ? { captureId: funding.captureId } : {}),
          payoutBatchId: payout!.batchId,
        });
      } else if (state === 'refunding' && funding.provider === 'paypal') {
        const refundedCapture = results.refundId ? funding.captureId : null;
        await this.tradesService.completeRefund(
          manager,
          trade.id,
          refundedCapture
            ? { provider: 'paypal', refundedCapture, refundId: results.refundId }
            : { provider: 'paypal', voided: funding.authorizationId },
        );
      } else if (state === 'refunding') {
        await this.tradesService.completeRefund(manager, trade.id, { provider: 'bank_transfer', returnId: results.refundId }, 'paid_back');
      } else {
        await this.tradesService.completeSplit(manager, trade.id, {
          provider: funding.provider,
          refundId: results.refundId,
          payoutBatchId: payout!.batchId,
        });
      }
      if (payout) await this.ledger.bookProviderFee(manager, trade.id, ENTRY.payoutFee, payout.feeUsd);
      // The last step's finish commits here, with the end its result caused.
      await this.journal.closeAtEnd(manager, trade.id, run.unfinished);
      await this.trades.clearSettlementFailing(manager, trade.id);
      // Came back at once (refused, failed, blocked): completed all the same, owed again and flagged.
      const bankReturn = results.bankReturn;
      if (bankReturn?.cameBack)
        await this.moves.bookRefundCameBack(manager, trade.id, funding.refundAttempt, split?.travelerUsd ?? trade.amountUsd, 'returned');
      if (payout?.outcome === 'came_back')
        await this.moves.bookPayoutCameBack(manager, trade.id, funding.payoutAttempt, netUsd, payout.itemStatus!);
      // What may still come back after the end is watched until final, not left to webhooks.
      if (bankReturn && !bankReturn.cameBack) await this.afterTheEnd.watch(manager, trade.id, 'watch_bank_return', funding.refundAttempt);
      if (payout?.outcome === 'left_us') await this.afterTheEnd.watch(manager, trade.id, 'watch_payout', funding.payoutAttempt);
      // The claim given up with the end: the run has nothing left to do, and a watch's job finds it free.
      await run.releaseIn(manager);
      return state === 'releasing' ? 'completed' : state === 'refunding' ? 'refunded' : 'settled_split';
    });
    run.released = true;
    return settled;
  }
}
