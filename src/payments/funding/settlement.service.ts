import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { FieldEncryption } from '../../common/crypto/field-encryption';
import { ENTRY, LedgerService, payoutAttemptEntry } from '../../ledger/ledger.service';
import { applyBps, formatAmount } from '../../common/money';
import { TradesRepository } from '../../trades/trades.repository';
import { TradesService } from '../../trades/trades.service';
import { HANDLE_CONTEXT } from '../../users/users.service';
import type { Trade } from '../../trades/trade.types';
import { BANK, BankPort } from '../providers/bank/bank.port';
import { PAYPAL, PaypalApiError, PaypalPayout, PaypalPort } from '../providers/paypal/paypal.port';
import { AfterTheEndStep, FundingRecord, FundingRepository } from './funding.repository';
import { NotYet, stepRequestId } from './provider-steps';

/** Final payout item statuses that mean the money did not (or no longer) reach the receiver. */
const PAYOUT_CAME_BACK = ['FAILED', 'RETURNED', 'BLOCKED', 'REFUNDED', 'REVERSED'];

type AfterTheEnd = 'payout_returned' | 'repaid' | 'refund_returned' | 'refund_repaid' | 'nothing';

/**
 * Moves a decided trade's USD at PayPal, one step at a time: provider call first, then a short transaction
 * recording what it did. Every call carries the trade's request id for that step, so a retry after "did it
 * but failed" gets PayPal's first answer instead of capturing or paying twice.
 */
@Injectable()
export class SettlementService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly fundings: FundingRepository,
    private readonly trades: TradesRepository,
    private readonly tradesService: TradesService,
    private readonly encryption: FieldEncryption,
    private readonly ledger: LedgerService,
    @Inject(PAYPAL) private readonly paypal: PaypalPort,
    @Inject(BANK) private readonly bank: BankPort,
  ) {}

  async settle(tradeId: string): Promise<'completed' | 'refunded' | 'settled_split' | AfterTheEnd> {
    const trade = await this.trades.find(tradeId);
    const funding = await this.fundings.find(tradeId);
    if (!trade || !funding) return 'nothing';
    if (trade.state === 'completed' || trade.state === 'refunded' || trade.state === 'settled_split')
      return this.afterTheEnd(trade, funding);
    if (trade.state === 'splitting') return this.settleSplit(trade, funding);
    if (funding.provider === 'bank_transfer') return this.settleBank(trade, funding);
    // A PayPal trade never authorized was never funded: nothing to settle.
    if (!funding.authorizationId) return 'nothing';
    const authorizationId = funding.authorizationId;

    if (trade.state === 'releasing') {
      const captureId = funding.captureId ?? (await this.capture(tradeId, authorizationId));
      const payout = await this.payOut(trade, funding, trade.amountUsd - trade.feeUsd);
      await this.dataSource.transaction(async (manager) => {
        await this.tradesService.completeRelease(manager, tradeId, { provider: 'paypal', captureId, payoutBatchId: payout.batchId });
        await this.ledger.bookProviderFee(manager, tradeId, ENTRY.payoutFee, payout.feeUsd);
        await this.trades.clearSettlementFailing(manager, tradeId);
      });
      return 'completed';
    }

    if (trade.state === 'refunding') {
      let captureId = funding.captureId;
      if (!captureId) {
        try {
          await this.paypal.voidAuthorization(authorizationId, stepRequestId(tradeId, 'void'));
        } catch (error) {
          const issue = error instanceof PaypalApiError ? error.issue : undefined;
          // Voided by an earlier attempt whose answer was lost: the refund is done all the same.
          if (issue === 'PREVIOUSLY_CAPTURED') {
            // Captured into escrow by the honour-period job, its answer lost: the same request id recovers the capture.
            captureId = await this.capture(tradeId, authorizationId);
          } else if (issue !== 'PREVIOUSLY_VOIDED') {
            throw error;
          }
        }
      }
      if (captureId) {
        const refund = await this.paypal.refundCapture(captureId, stepRequestId(tradeId, 'refund'));
        await this.dataSource.transaction((manager) =>
          this.tradesService.completeRefund(manager, tradeId, {
            provider: 'paypal',
            refundedCapture: captureId,
            refundId: refund.refundId,
          }),
        );
        return 'refunded';
      }
      await this.dataSource.transaction((manager) =>
        this.tradesService.completeRefund(manager, tradeId, { provider: 'paypal', voided: authorizationId }),
      );
      return 'refunded';
    }
    return 'nothing';
  }

  /**
   * A bank-funded trade: the money is in our bank account. Release pays the counterparty by PayPal payout;
   * refund sends the trade's USD back to the sender of the transfer that funded it, done when the bank
   * says the return settled.
   */
  private async settleBank(trade: Trade, funding: FundingRecord): Promise<'completed' | 'refunded' | 'nothing'> {
    if (!funding.bankTransferId) return 'nothing';
    if (trade.state === 'releasing') {
      const payout = await this.payOut(trade, funding, trade.amountUsd - trade.feeUsd);
      await this.dataSource.transaction(async (manager) => {
        await this.tradesService.completeRelease(manager, trade.id, { provider: 'bank_transfer', payoutBatchId: payout.batchId });
        await this.ledger.bookProviderFee(manager, trade.id, ENTRY.payoutFee, payout.feeUsd);
        await this.trades.clearSettlementFailing(manager, trade.id);
      });
      return 'completed';
    }
    if (trade.state === 'refunding') {
      const returned = await this.bank.returnTransfer({
        transferId: funding.bankTransferId,
        amountUsd: trade.amountUsd,
        requestId: stepRequestId(trade.id, 'refund'),
      });
      await this.recordRefund(trade.id, funding, returned.transferId);
      if (returned.status === 'pending') throw new NotYet(`bank return ${returned.transferId} is pending`);
      if (returned.status === 'failed') throw new Error(`The bank could not return ${returned.transferId} to the sender`);
      await this.dataSource.transaction(async (manager) => {
        await this.tradesService.completeRefund(
          manager,
          trade.id,
          { provider: 'bank_transfer', returnId: returned.transferId },
          'paid_back',
        );
        await this.trades.clearSettlementFailing(manager, trade.id);
      });
      return 'refunded';
    }
    return 'nothing';
  }

  /**
   * An operator's split: the traveler's part back (a partial refund of the capture, or a partial return of
   * the bank transfer), then the counterparty's part less its fee by payout; `settled_split` when both are
   * confirmed. Each provider call keeps its step's request id, so repeating the job repeats nothing.
   */
  private async settleSplit(trade: Trade, funding: FundingRecord): Promise<'settled_split' | 'nothing'> {
    const split = await this.trades.splitOf(this.dataSource.manager, trade.id);
    if (!split) return 'nothing';
    const requestId = stepRequestId(trade.id, 'refund');
    let refundId: string;
    if (funding.provider === 'paypal') {
      if (!funding.authorizationId) return 'nothing';
      // A dispute captured the authorization into escrow already; if that job has not run, capture now.
      const captureId = funding.captureId ?? (await this.capture(trade.id, funding.authorizationId));
      refundId = (await this.paypal.refundCapture(captureId, requestId, split.travelerUsd)).refundId;
    } else {
      if (!funding.bankTransferId) return 'nothing';
      const returned = await this.bank.returnTransfer({ transferId: funding.bankTransferId, amountUsd: split.travelerUsd, requestId });
      await this.recordRefund(trade.id, funding, returned.transferId);
      if (returned.status === 'pending') throw new NotYet(`bank return ${returned.transferId} is pending`);
      if (returned.status === 'failed') throw new Error(`The bank could not return ${returned.transferId} to the sender`);
      refundId = returned.transferId;
    }
    await this.recordRefund(trade.id, funding, refundId);
    const payout = await this.payOut(trade, funding, split.counterpartyUsd - applyBps(split.counterpartyUsd, trade.feeBps));
    await this.dataSource.transaction(async (manager) => {
      await this.tradesService.completeSplit(manager, trade.id, { provider: funding.provider, refundId, payoutBatchId: payout.batchId });
      await this.ledger.bookProviderFee(manager, trade.id, ENTRY.payoutFee, payout.feeUsd);
      await this.trades.clearSettlementFailing(manager, trade.id);
    });
    return 'settled_split';
  }

  private async recordRefund(tradeId: string, funding: FundingRecord, refundId: string): Promise<void> {
    if (funding.refundId) return;
    await this.dataSource.transaction((manager) => this.fundings.recordStep(manager, tradeId, 'refund_id', refundId));
  }

  /**
   * Pays the counterparty the USD less the fee by PayPal payout, under the trade's one payout batch id, and
   * returns the payout once PayPal says it succeeded (NotYet while it is processing).
   */
  private async payOut(trade: Trade, funding: FundingRecord, netUsd: bigint): Promise<PaypalPayout> {
    let batchId = funding.payoutBatchId;
    if (!batchId) {
      const attempt = funding.payoutAttempt;
      // The first payout goes to the email snapshotted with the trade; one paid again after a return goes to
      // the counterparty's email on file now (the snapshot is where it could not be claimed).
      const sealed =
        attempt === 1 ? await this.trades.counterpartyPaypalOf(trade.id) : await this.trades.counterpartyCurrentPaypalOf(trade.id);
      if (!sealed) throw new Error(`Trade ${trade.id}: the counterparty has no PayPal email to pay`);
      const receiverEmail = this.encryption.decrypt(sealed, HANDLE_CONTEXT.paypalEmail);
      const payout = await this.paypal.createPayout({
        senderBatchId: attempt === 1 ? stepRequestId(trade.id, 'payout') : `${stepRequestId(trade.id, 'payout')}-${attempt}`,
        receiverEmail,
        amountUsd: netUsd,
        note: `Yuanbridge trade ${trade.id}`,
      });
      batchId = payout.batchId;
      await this.dataSource.transaction(async (manager) => {
        await this.fundings.recordStep(manager, trade.id, 'payout_batch_id', payout.batchId);
        if (payout.itemId) await this.fundings.recordStep(manager, trade.id, 'payout_item_id', payout.itemId);
      });
    }
    const batch = await this.paypal.getPayoutBatch(batchId);
    // A payout that reached a final status other than SUCCESS is a failure operators must see, not a wait.
    if (batch.itemStatus && PAYOUT_CAME_BACK.includes(batch.itemStatus)) {
      throw new Error(`Payout ${batchId} is ${batch.itemStatus}`);
    }
    // UNCLAIMED: the money has left us and waits for the receiver to claim it. Paid, unless PayPal returns it later.
    if (batch.itemStatus !== 'SUCCESS' && batch.itemStatus !== 'UNCLAIMED') {
      throw new NotYet(`payout ${batchId} is ${batch.itemStatus ?? batch.batchStatus}`);
    }
    if (batch.itemId && !funding.payoutItemId) {
      await this.dataSource.transaction((manager) => this.fundings.recordStep(manager, trade.id, 'payout_item_id', batch.itemId!));
    }
    return batch;
  }

  /** An ended trade's money that came back afterwards: the payout (completed, split) and a bank refund (refunded, split). */
  private async afterTheEnd(trade: Trade, funding: FundingRecord): Promise<AfterTheEnd> {
    if (trade.state !== 'refunded') {
      const payout = await this.settleReturnedPayout(trade, funding);
      if (payout !== 'nothing') return payout;
    }
    if (trade.state !== 'completed' && funding.provider === 'bank_transfer') return this.settleReturnedRefund(trade, funding);
    return 'nothing';
  }

  /**
   * A bank refund that settled and was then sent back (the traveler's account is closed): booked back to the
   * traveler's refund payable, the trade flagged, its state unchanged. An operator's retry (the next attempt,
   * `yb-<trade>-refund-<n>`) sends it again, once the traveler has their account open, and clears the flag.
   */
  private async settleReturnedRefund(trade: Trade, funding: FundingRecord): Promise<'refund_returned' | 'refund_repaid' | 'nothing'> {
    if (!funding.bankTransferId) return 'nothing';
    const attempt = funding.refundAttempt;
    const amountUsd =
      trade.state === 'refunded' ? trade.amountUsd : (await this.trades.splitOf(this.dataSource.manager, trade.id))!.travelerUsd;
    if (attempt > 1 && !funding.refundReturned && !(await this.ledger.refundRepaidAlready(trade.id, attempt))) {
      const returned = await this.bank.returnTransfer({
        transferId: funding.bankTransferId,
        amountUsd,
        requestId: `${stepRequestId(trade.id, 'refund')}-${attempt}`,
      });
      await this.recordRefund(trade.id, funding, returned.transferId);
      if (returned.status === 'pending') throw new NotYet(`bank return ${returned.transferId} is pending`);
      if (returned.status !== 'settled') throw new Error(`The bank return ${returned.transferId} is ${returned.status}`);
      const booked = await this.dataSource.transaction(async (manager) => {
        await this.trades.lockState(manager, trade.id);
        if (await this.ledger.refundRepaidAlready(trade.id, attempt, manager)) return false;
        await this.ledger.refundRepaid(manager, trade.id, attempt, amountUsd);
        await this.trades.clearSettlementFailing(manager, trade.id);
        return true;
      });
      return booked ? 'refund_repaid' : 'nothing';
    }
    if (!funding.refundId || funding.refundReturned) return 'nothing';
    const refund = await this.bank.getTransfer(funding.refundId);
    if (refund.status !== 'returned') return 'nothing';
    await this.bookCameBack(trade.id, 'refund', attempt, (manager) => this.ledger.refundReturned(manager, trade.id, attempt, amountUsd), {
      provider: 'bank_transfer',
      refund: 'returned',
      attempt,
      amountUsd: formatAmount(amountUsd, 'USD'),
    });
    return 'refund_returned';
  }

  /**
   * A trade that ended paid out: a payout PayPal later returned (unclaimed past its claim period) is booked
   * back to the counterparty's payable and the trade flagged for operators, its state unchanged; an
   * operator's retry (the next attempt) pays it again and clears the flag.
   */
  private async settleReturnedPayout(trade: Trade, funding: FundingRecord): Promise<'payout_returned' | 'repaid' | 'nothing'> {
    const attempt = funding.payoutAttempt;
    const netUsd = await this.paidOutUsd(trade);
    if (attempt > 1 && !funding.payoutReturned && !(await this.ledger.payoutRepaidAlready(trade.id, attempt))) {
      const payout = await this.payOut(trade, funding, netUsd);
      const booked = await this.dataSource.transaction(async (manager) => {
        // Under the trade's row lock: a webhook's job and the retry's may both get here; one books it.
        await this.trades.lockState(manager, trade.id);
        if (await this.ledger.payoutRepaidAlready(trade.id, attempt, manager)) return false;
        await this.ledger.payoutRepaid(manager, trade.id, attempt, netUsd);
        await this.ledger.bookProviderFee(manager, trade.id, payoutAttemptEntry(ENTRY.payoutFee, attempt), payout.feeUsd);
        await this.trades.clearSettlementFailing(manager, trade.id);
        return true;
      });
      return booked ? 'repaid' : 'nothing';
    }
    if (!funding.payoutBatchId || funding.payoutReturned) return 'nothing';
    const batch = await this.paypal.getPayoutBatch(funding.payoutBatchId);
    if (!batch.itemStatus || !PAYOUT_CAME_BACK.includes(batch.itemStatus)) return 'nothing';
    await this.bookCameBack(trade.id, 'payout', attempt, (manager) => this.ledger.payoutReturned(manager, trade.id, attempt, netUsd), {
      provider: 'paypal',
      payout: batch.itemStatus,
      attempt,
      amountUsd: formatAmount(netUsd, 'USD'),
    });
    return 'payout_returned';
  }

  /** Money that came back after the end, in one transaction: marked once, booked back, the trade flagged, the parties told. */
  private async bookCameBack(
    tradeId: string,
    what: AfterTheEndStep,
    attempt: number,
    bookBack: (manager: EntityManager) => Promise<void>,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      if (!(await this.fundings.markReturnedAfterEnd(manager, tradeId, what, attempt))) return;
      await bookBack(manager);
      await this.trades.flagReturnedAfterEnd(manager, tradeId);
      await this.trades.insertEvent(manager, tradeId, {
        actor: { kind: 'system', id: null },
        type: 'provider_event',
        fromState: null,
        toState: null,
        detail,
      });
    });
  }

  /** What the counterparty was paid (net of the fee): the trade's USD, or their part of a split. */
  private async paidOutUsd(trade: Trade): Promise<bigint> {
    if (trade.state !== 'settled_split') return trade.amountUsd - trade.feeUsd;
    const split = await this.trades.splitOf(this.dataSource.manager, trade.id);
    return split!.counterpartyUsd - trade.feeUsd;
  }

  /**
   * Before PayPal's honour period ends, a trade still holding its authorization (funded, waiting on the payout
   * or a dispute) has it captured into escrow; release then pays out of the capture, refund refunds it.
   * Settling and ended trades are left to their own steps.
   */
  async captureIntoEscrow(tradeId: string): Promise<'captured' | 'nothing'> {
    const trade = await this.trades.find(tradeId);
    const funding = await this.fundings.find(tradeId);
    if (!trade || !funding?.authorizationId || funding.captureId) return 'nothing';
    if (!['funded', 'payout_sent', 'disputed'].includes(trade.state)) return 'nothing';
    await this.capture(tradeId, funding.authorizationId);
    return 'captured';
  }

  /** Captures the whole authorization under the trade's one capture request id, and records it with PayPal's fee. */
  private async capture(tradeId: string, authorizationId: string): Promise<string> {
    const capture = await this.paypal.captureAuthorization(authorizationId, stepRequestId(tradeId, 'capture'));
    await this.dataSource.transaction(async (manager) => {
      // The honour-period job and a settlement may both capture (one gets PayPal's replay): the fee is booked once.
      if (await this.fundings.recordFirst(manager, tradeId, 'capture_id', capture.captureId)) {
        await this.ledger.bookProviderFee(manager, tradeId, ENTRY.captureFee, capture.paypalFeeUsd);
      }
    });
    return capture.captureId;
  }
}
