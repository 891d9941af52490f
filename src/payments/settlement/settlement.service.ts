import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { EntityManager } from 'typeorm';
import type { EncryptedField } from '../../common/crypto/field-encryption';
import { applyBps } from '../../common/money';
import { tradesConfig } from '../../config';
import { ENTRY } from '../../ledger/ledger.service';
import type { Trade } from '../../trades/trade.types';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { TradeTransitionsService } from '../../trades/trade-transitions.service';
import type { FundingRecord } from '../funding/funding.repository';
import { AfterTheEnd, AfterTheEndOutcome } from './after-the-end';
import { SettlementMoves, SettledPayout } from './settlement-moves';
import { applicableSteps, isEnded, isSettling, planFor, SettlingState, StepName } from './settlement-plan';
import { SettlementRepository, SettlementView } from './settlement.repository';
import { SettlementBusy, SettlementMoved, SettlementRun, StepFinish } from './settlement-run';
import { Transactions } from '../../database/transactions';

type Settled = 'completed' | 'refunded' | 'settled_split';

/** How many times a run reads the trade again when its funding record changed before the claim, before it gives way. */
const MAX_READS = 3;

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
    private readonly trades: TradeSettlementRepository,
    private readonly tradesService: TradeTransitionsService,
    private readonly moves: SettlementMoves,
    private readonly journal: SettlementRepository,
    private readonly afterTheEnd: AfterTheEnd,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  async settle(tradeId: string): Promise<Settled | AfterTheEndOutcome | 'nothing'> {
    // A run that finds the funding record changed between its read and its claim reads again; the record changes
    // with every claim, so a trade that keeps changing is left to the job's retry.
    for (let read = 1; read <= MAX_READS; read += 1) {
      const view = await this.journal.view(tradeId);
      const trade = view?.trade;
      if (!view || !trade || !(isSettling(trade.state) || isEnded(trade.state))) return 'nothing';
      // The claim lives on the funding record: a trade never funded has nothing to settle.
      const funding = view.funding;
      if (!funding) return 'nothing';
      if (view.claimHeld) throw new SettlementBusy(tradeId);
      try {
        if (isEnded(trade.state)) {
          // An ended trade's state is final; its funding record is taken as the claim wrote it.
          return await this.claimed(tradeId, null, async (run) => this.afterTheEnd.run(run, trade, run.funding!));
        }
        const state = trade.state;
        // The plan is made from this read and the claim taken with its first step, only if the funding record is
        // still as read: a settling trade ends only in a transaction that also writes its funding record.
        return await this.claimed(tradeId, view, (run) => this.runPlan(run, trade, state, funding, view.payee));
      } catch (error) {
        if (!(error instanceof SettlementMoved)) throw error;
      }
    }
    throw new SettlementBusy(tradeId);
  }

  /**
   * Before PayPal's honour period ends, a trade still holding its authorization (funded, waiting on the payout
   * or a dispute) has it captured into escrow; release then pays out of the capture, refund refunds it.
   * Settling and ended trades are left to their own steps.
   */
  async captureIntoEscrow(tradeId: string): Promise<'captured' | 'nothing'> {
    const view = await this.journal.view(tradeId);
    const funding = view?.funding;
    // Captured already: its finish was journaled with the capture's record.
    if (!view || !funding?.authorizationId || funding.captureId) return 'nothing';
    if (!['funded', 'payout_sent', 'disputed'].includes(view.trade.state)) return 'nothing';
    if (view.claimHeld) throw new SettlementBusy(tradeId);
    try {
      // The capture's begin takes the claim, only if the funding record is still as read (not captured meanwhile).
      return await this.claimed(tradeId, view, async (run) => {
        await run.step('capture', 1, () => this.moves.capture(tradeId, funding.authorizationId!), 'recorded');
        return 'captured' as const;
      });
    } catch (error) {
      // Another run claimed or recorded meanwhile: the job's retry reads again.
      if (error instanceof SettlementMoved) throw new SettlementBusy(tradeId);
      throw error;
    }
  }

  /**
   * Runs `work` as one settlement run: from `view`, the claim is taken with the run's first step, only if the
   * funding record is still as read; without one, it is taken first (another run holding it → SettlementBusy, the
   * job tries again later). Given up with the run's end or stall, or here.
   */
  private async claimed<T>(tradeId: string, view: SettlementView | null, work: (run: SettlementRun) => Promise<T>): Promise<T> {
    const token = randomUUID();
    const run = new SettlementRun(tradeId, token, this.journal, this.trades, this.config, view?.version ?? null, view?.funding ?? null);
    if (!view) {
      const funding = await this.journal.claim(tradeId, token, this.config.settlementClaimLeaseMs);
      if (!funding) throw new SettlementBusy(tradeId);
      run.funding = funding;
    }
    try {
      return await work(run);
    } finally {
      if (run.claimed && !run.released) await this.journal.release(tradeId, token);
    }
  }

  private async runPlan(
    run: SettlementRun,
    trade: Trade,
    state: SettlingState,
    initial: FundingRecord,
    payee: EncryptedField | null,
  ): Promise<Settled | 'nothing'> {
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
      // A payout right after a capture is begun with the capture's record: one commit fewer.
      const next = plan[plan.indexOf(step) + 1];
      const payoutAhead = step === 'capture' && next === 'payout' ? funding.payoutAttempt : null;
      await this.runStep(run, trade, step, split, results, finish, payee, payoutAhead);
      // The record as the step began under the claim, with what the step itself recorded: no other run records
      // a step while this one holds the claim, so nothing is read again.
      funding = {
        ...run.funding!,
        captureId: run.funding!.captureId ?? results.captureId ?? null,
        refundId: run.funding!.refundId ?? results.refundId ?? null,
      };
    }
    // Every plan has a step that applies, so the claim is held; were it not, it is taken here, as read.
    await run.claim();
    return this.complete(run, trade, state, funding, split, results);
  }

  private async runStep(
    run: SettlementRun,
    trade: Trade,
    step: StepName,
    split: { travelerUsd: bigint; counterpartyUsd: bigint } | null,
    results: StepResults,
    finish: StepFinish,
    payee: EncryptedField | null,
    payoutAhead: number | null = null,
  ): Promise<void> {
    // Each call works from the funding record as its step began, under the claim.
    switch (step) {
      case 'capture': {
        const alsoRecord = payoutAhead === null ? undefined : (manager: EntityManager) => run.beginInside(manager, 'payout', payoutAhead);
        results.captureId = await run.step(
          'capture',
          1,
          ({ funding }) => this.moves.capture(trade.id, funding.authorizationId!, alsoRecord),
          finish,
        );
        return;
      }
      case 'void': {
        const outcome = await run.step(
          'void',
          1,
          ({ funding }) => this.moves.voidOrRecoverCapture(trade.id, funding.authorizationId!),
          finish,
        );
        results.voided = outcome.voided;
        if (outcome.captureId) results.captureId = outcome.captureId;
        return;
      }
      case 'refund':
        results.refundId = await run.step(
          'refund',
          1,
          ({ funding, retried, record }) =>
            this.moves.refundCapture(trade.id, funding, funding.captureId!, split ? split.travelerUsd : undefined, retried, record),
          finish,
        );
        return;
      case 'bank_return':
        results.bankReturn = await run.step(
          'bank_return',
          run.funding!.refundAttempt,
          ({ funding, record }) => this.moves.returnToTraveler(trade, funding, split ? split.travelerUsd : trade.amountUsd, record),
          finish,
        );
        results.refundId = results.bankReturn.returnId;
        return;
      case 'payout':
        results.payout = await run.step(
          'payout',
          run.funding!.payoutAttempt,
          ({ funding, record }) => this.moves.payOut(trade, funding, this.netToCounterparty(trade, split), record, payee),
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
    // PayPal's fee on the payout is booked with the end's own ledger operation.
    const payoutFee = payout ? { kind: ENTRY.payoutFee, feeUsd: payout.feeUsd } : undefined;
    const settled = await this.transactions.run(async (manager) => {
      // The transition comes first: it takes the users' and the trade's rows before anything else (the one lock
      // order). What follows writes the trade's own rows after its ledger entries; no transaction holds one of
      // those rows while waiting for the ledger without holding the trade's row first, so this cannot cycle.
      if (state === 'releasing') {
        await this.tradesService.completeRelease(
          manager,
          trade.id,
          {
            provider: funding.provider,
            ...(funding.captureId ? { captureId: funding.captureId } : {}),
            payoutBatchId: payout!.batchId,
          },
          payoutFee,
        );
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
        await this.tradesService.completeSplit(
          manager,
          trade.id,
          { provider: funding.provider, refundId: results.refundId, payoutBatchId: payout!.batchId },
          payoutFee,
        );
      }
      // The last step's finish and the ids it learned commit here, with the end its result caused; the claim is
      // given up and the flag cleared in the same statement.
      await this.journal.closeAtEnd(manager, trade.id, run.token, run.unfinished);
      // Came back at once (refused, failed, blocked): completed all the same, owed again and flagged.
      const bankReturn = results.bankReturn;
      if (bankReturn?.cameBack)
        await this.moves.bookRefundCameBack(manager, trade.id, funding.refundAttempt, split?.travelerUsd ?? trade.amountUsd, 'returned');
      if (payout?.outcome === 'came_back')
        await this.moves.bookPayoutCameBack(manager, trade.id, funding.payoutAttempt, netUsd, payout.itemStatus!);
      // What may still come back after the end is watched until final, not left to webhooks.
      if (bankReturn && !bankReturn.cameBack) await this.afterTheEnd.watch(manager, trade.id, 'watch_bank_return', funding.refundAttempt);
      if (payout?.outcome === 'left_us') await this.afterTheEnd.watch(manager, trade.id, 'watch_payout', funding.payoutAttempt);
      return state === 'releasing' ? 'completed' : state === 'refunding' ? 'refunded' : 'settled_split';
    });
    run.released = true;
    return settled;
  }
}
