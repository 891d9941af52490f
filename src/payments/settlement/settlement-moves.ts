import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { EncryptedField, FieldEncryption } from '../../common/crypto/field-encryption';
import { formatAmount } from '../../common/money';
import { ENTRY, LedgerService } from '../../ledger/ledger.service';
import type { Trade } from '../../trades/trade.types';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { ProviderEventDetail, TradeTimeline } from '../../trades/trade-timeline';
import { HANDLE_CONTEXT } from '../../common/crypto/handle-context';
import { FundingRecord, FundingRepository } from '../funding/funding.repository';
import { NotYet } from '../funding/provider-steps';
import { BANK, BankPort } from '../providers/bank/bank.port';
import { PAYPAL, PaypalApiError, PaypalCapture, PaypalPayout, PaypalPort } from '../providers/paypal/paypal.port';
import { PayoutOutcome, payoutOutcome, STEPS } from './settlement-plan';
import { SettlementRepository, StepIds } from './settlement.repository';
import { Transactions } from '../../database/transactions';

export type SettledPayout = PaypalPayout & { outcome: Exclude<PayoutOutcome, 'not_yet'> };

/**
 * The provider calls of settlement's steps, each under its step's request id, and the short transactions that
 * record what each did. Nothing here decides which step comes next: `SettlementService` walks the plan.
 */
@Injectable()
export class SettlementMoves {
  constructor(
    private readonly transactions: Transactions,
    private readonly fundings: FundingRepository,
    private readonly trades: TradeSettlementRepository,
    private readonly timeline: TradeTimeline,
    private readonly encryption: FieldEncryption,
    private readonly ledger: LedgerService,
    private readonly journal: SettlementRepository,
    @Inject(PAYPAL) private readonly paypal: PaypalPort,
    @Inject(BANK) private readonly bank: BankPort,
  ) {}

  /**
   * Captures the whole authorization under the trade's one capture request id, and records it with PayPal's fee
   * once. An authorization already captured (an attempt whose answer was lost, past PayPal's replay of the
   * request id) is found among its order's captures. `alsoRecord` writes in the same transaction, after the journal
   * (the next step's begin).
   */
  async capture(tradeId: string, authorizationId: string, alsoRecord?: (manager: EntityManager) => Promise<void>): Promise<string> {
    let capture: PaypalCapture;
    try {
      capture = await this.paypal.captureAuthorization(authorizationId, STEPS.capture.requestId(tradeId, 1));
    } catch (error) {
      if (!(error instanceof PaypalApiError) || error.issue !== 'AUTHORIZATION_ALREADY_CAPTURED') throw error;
      const order = await this.orderOf(tradeId);
      const found = order.captures.find((c) => c.status !== 'DECLINED');
      if (!found) throw error;
      capture = found;
    }
    await this.transactions.run(async (manager) => {
      // The one lock order: the trade's row, then its funding record and journal, then the ledger. The honour-period
      // job and a settlement may both capture (one gets PayPal's replay): the fee is booked once.
      const first = await this.fundings.lockTradeAndRecordFirst(manager, tradeId, 'capture_id', capture.captureId);
      // The capture step is done with its record: a recorded capture is never left running in the journal.
      await this.journal.finish(manager, tradeId, 'capture', 1, capture.captureId);
      await alsoRecord?.(manager);
      if (first) await this.ledger.bookProviderFee(manager, tradeId, ENTRY.captureFee, capture.paypalFeeUsd);
    });
    return capture.captureId;
  }

  /** Voids a held authorization; one captured meanwhile (its answer lost) is recovered, and the caller refunds it instead. */
  async voidOrRecoverCapture(tradeId: string, authorizationId: string): Promise<{ voided: boolean; captureId: string | null }> {
    try {
      await this.paypal.voidAuthorization(authorizationId, STEPS.void.requestId(tradeId, 1));
      return { voided: true, captureId: null };
    } catch (error) {
      const issue = error instanceof PaypalApiError ? error.issue : undefined;
      // Voided by an earlier attempt whose answer was lost: done all the same.
      if (issue === 'PREVIOUSLY_VOIDED') return { voided: true, captureId: null };
      // Captured into escrow by the honour-period job, its answer lost: the same request id recovers the capture.
      if (issue === 'PREVIOUSLY_CAPTURED') return { voided: false, captureId: await this.capture(tradeId, authorizationId) };
      throw error;
    }
  }

  /**
   * Refunds the capture (all of it, or the traveler's part of a split) and records the refund. A capture refunded
   * already (an attempt whose answer was lost, past PayPal's replay) is found among its order's refunds: the trade
   * makes one refund of a capture, so the one there is ours. The refund's id is noted (`record`) for the statement
   * that ends the step.
   */
  async refundCapture(
    tradeId: string,
    funding: FundingRecord,
    captureId: string,
    amountUsd: bigint | undefined,
    retried: boolean,
    record: (ids: StepIds) => void,
  ): Promise<string> {
    const madeBefore = async () => {
      const order = await this.orderOf(tradeId);
      return order.refunds.find((r) => r.captureId === captureId && (amountUsd === undefined || r.amountUsd === amountUsd))?.refundId;
    };
    // A part refunded by an earlier try leaves enough to refund that part again: look before refunding.
    let refundId = funding.refundId ?? (retried ? await madeBefore() : undefined);
    if (refundId) {
      if (!funding.refundId) record({ refund: { attempt: funding.refundAttempt, refundId } });
      return refundId;
    }
    try {
      refundId = (await this.paypal.refundCapture(captureId, STEPS.refund.requestId(tradeId, 1), amountUsd)).refundId;
    } catch (error) {
      const issue = error instanceof PaypalApiError ? error.issue : null;
      if (issue !== 'CAPTURE_FULLY_REFUNDED' && issue !== 'REFUND_AMOUNT_EXCEEDED') throw error;
      refundId = await madeBefore();
      if (!refundId) throw error;
    }
    record({ refund: { attempt: funding.refundAttempt, refundId } });
    return refundId;
  }

  private async orderOf(tradeId: string) {
    const funding = await this.fundings.find(tradeId);
    if (!funding?.orderId) throw new Error(`Trade ${tradeId} has no PayPal order`);
    return this.paypal.getOrder(funding.orderId);
  }

  /**
   * Pays the counterparty `netUsd` by PayPal payout, under the attempt's one sender_batch_id, and returns the payout
   * once PayPal has finished with it (NotYet while it is processing): paid, left us unclaimed, or came back. The
   * batch and item ids are noted (`record`) for the statement that ends the step: its stall while the payout is
   * pending (so a webhook finds the trade by its item); a final payout's are written at once as well, since the step's
   * end is then the trade's, which may fail or never come. A worker killed before either leaves the step running; its
   * retry makes the payout again under the same sender_batch_id and finds the first batch.
   */
  async payOut(
    trade: Trade,
    funding: FundingRecord,
    netUsd: bigint,
    record: (ids: StepIds) => void,
    payee: EncryptedField | null = null,
  ): Promise<SettledPayout> {
    const attempt = funding.payoutAttempt;
    let batch: PaypalPayout;
    if (!funding.payoutBatchId) {
      // The first payout goes to the email snapshotted with the trade (as the run read it with the trade, or read
      // here); one paid again after a return goes to the counterparty's email on file now (the snapshot is where it
      // could not be claimed).
      const sealed =
        attempt === 1
          ? (payee ?? (await this.trades.counterpartyPaypalOf(trade.id)))
          : await this.trades.counterpartyCurrentPaypalOf(trade.id);
      if (!sealed) throw new Error(`Trade ${trade.id}: the counterparty has no PayPal email to pay`);
      // The payout as PayPal has it once made: no second read of the batch it just answered with.
      batch = await this.paypal.createPayout({
        senderBatchId: STEPS.payout.requestId(trade.id, attempt),
        receiverEmail: this.encryption.decrypt(sealed, HANDLE_CONTEXT.paypalEmail),
        amountUsd: netUsd,
        note: `Yuanbridge trade ${trade.id}`,
      });
    } else {
      batch = await this.paypal.getPayoutBatch(funding.payoutBatchId);
    }
    const outcome = payoutOutcome(batch.itemStatus);
    if (!funding.payoutBatchId || (batch.itemId && !funding.payoutItemId)) {
      const ids: StepIds = { payout: { attempt, batchId: batch.batchId, itemId: batch.itemId } };
      record(ids);
      // A pending payout's ids go with the step's stall; a final one's are written now, not only with the trade's end,
      // which may never come (see `recordProviderIds`).
      if (outcome !== 'not_yet') await this.journal.recordProviderIds(trade.id, ids);
    }
    if (outcome === 'not_yet') throw new NotYet(`payout ${batch.batchId} is ${batch.itemStatus ?? batch.batchStatus}`);
    return { ...batch, outcome };
  }

  /** Reads the recorded payout batch of an ended trade: what became of it since. */
  async payoutNow(batchId: string): Promise<PaypalPayout & { outcome: PayoutOutcome }> {
    const batch = await this.paypal.getPayoutBatch(batchId);
    return { ...batch, outcome: payoutOutcome(batch.itemStatus) };
  }

  /**
   * A bank return to the traveler (the refund, or the traveler's part of a split) for the current attempt; pending
   * is NotYet. `cameBack` when the bank refused it or the traveler's bank sent it back.
   */
  async returnToTraveler(
    trade: Trade,
    funding: FundingRecord,
    amountUsd: bigint,
    record: (ids: StepIds) => void,
  ): Promise<{ returnId: string; cameBack: boolean }> {
    const returned = await this.bank.returnTransfer({
      transferId: funding.bankTransferId!,
      amountUsd,
      requestId: STEPS.bank_return.requestId(trade.id, funding.refundAttempt),
    });
    // Recorded with the step's stall (pending) or finish.
    if (!funding.refundId) record({ refund: { attempt: funding.refundAttempt, refundId: returned.transferId } });
    if (returned.status === 'pending') throw new NotYet(`bank return ${returned.transferId} is pending`);
    return { returnId: returned.transferId, cameBack: returned.status !== 'settled' };
  }

  /** What the bank says now of a recorded return. */
  async bankReturnNow(returnId: string): Promise<string> {
    return (await this.bank.getTransfer(returnId)).status;
  }

  /** A paid payout came back: marked once, booked back to the counterparty's payable, the trade flagged, the parties told. */
  async bookPayoutCameBack(manager: EntityManager, tradeId: string, attempt: number, netUsd: bigint, status: string): Promise<boolean> {
    if (!(await this.fundings.markReturnedAfterEnd(manager, tradeId, 'payout', attempt))) return false;
    await this.ledger.payoutReturned(manager, tradeId, attempt, netUsd);
    await this.trades.flagReturnedAfterEnd(manager, tradeId);
    await this.tellParties(manager, tradeId, { provider: 'paypal', payout: status, attempt, amountUsd: formatAmount(netUsd, 'USD') });
    return true;
  }

  /** A paid bank refund came back: the same, to the traveler's refund payable. */
  async bookRefundCameBack(manager: EntityManager, tradeId: string, attempt: number, amountUsd: bigint, status: string): Promise<boolean> {
    if (!(await this.fundings.markReturnedAfterEnd(manager, tradeId, 'refund', attempt))) return false;
    await this.ledger.refundReturned(manager, tradeId, attempt, amountUsd);
    await this.trades.flagReturnedAfterEnd(manager, tradeId);
    await this.tellParties(manager, tradeId, {
      provider: 'bank_transfer',
      refund: status,
      attempt,
      amountUsd: formatAmount(amountUsd, 'USD'),
    });
    return true;
  }

  async tellParties(manager: EntityManager, tradeId: string, detail: ProviderEventDetail): Promise<void> {
    await this.timeline.providerEvent(manager, tradeId, detail);
  }

  /** The flag of an ended trade stays while any leg is owed: came back, or paid again but not yet confirmed. */
  async clearFlagIfNothingOwed(manager: EntityManager, tradeId: string): Promise<void> {
    const funding = (await this.fundings.find(tradeId, manager))!;
    const owed =
      funding.payoutReturned ||
      funding.refundReturned ||
      (funding.payoutAttempt > 1 && !(await this.ledger.payoutRepaidAlready(tradeId, funding.payoutAttempt, manager))) ||
      (funding.refundAttempt > 1 && !(await this.ledger.refundRepaidAlready(tradeId, funding.refundAttempt, manager)));
    if (!owed) await this.trades.clearSettlementFailing(manager, tradeId);
  }

  /** What the counterparty was paid (net of the fee): the trade's USD, or their part of a split. */
  async paidOutUsd(trade: Trade): Promise<bigint> {
    if (trade.state !== 'settled_split') return trade.amountUsd - trade.feeUsd;
    const split = await this.trades.splitOf(this.transactions.manager, trade.id);
    return split!.counterpartyUsd - trade.feeUsd;
  }
}
