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
import { FundingRecord, FundingRepository } from './funding.repository';
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
      await this.release(trade, funding, { provider: 'paypal', captureId });
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
      await this.release(trade, funding, { provider: 'bank_transfer' });
      return 'completed';
    }
    if (trade.state === 'refunding') {
      const { returnId, cameBack } = await this.returnToTraveler(trade, funding, trade.amountUsd);
      await this.dataSource.transaction(async (manager) => {
        await this.tradesService.completeRefund(manager, trade.id, { provider: 'bank_transfer', returnId }, 'paid_back');
        await this.trades.clearSettlementFailing(manager, trade.id);
        // Refused, or already sent back by the traveler's bank: refunded as far as the trade goes, owed again, flagged.
        if (cameBack) await this.bookRefundCameBack(manager, trade.id, 1, trade.amountUsd, 'returned');
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
    let refundId: string;
    let refundCameBack = false;
    if (funding.provider === 'paypal') {
      if (!funding.authorizationId) return 'nothing';
      // A dispute captured the authorization into escrow already; if that job has not run, capture now.
      const captureId = funding.captureId ?? (await this.capture(trade.id, funding.authorizationId));
      refundId = (await this.paypal.refundCapture(captureId, stepRequestId(trade.id, 'refund'), split.travelerUsd)).refundId;
    } else {
      if (!funding.bankTransferId) return 'nothing';
      ({ returnId: refundId, cameBack: refundCameBack } = await this.returnToTraveler(trade, funding, split.travelerUsd));
    }
    await this.recordRefund(trade.id, funding, refundId);
    const netUsd = split.counterpartyUsd - applyBps(split.counterpartyUsd, trade.feeBps);
    const payout = await this.payOut(trade, funding, netUsd);
    await this.dataSource.transaction(async (manager) => {
      await this.tradesService.completeSplit(manager, trade.id, { provider: funding.provider, refundId, payoutBatchId: payout.batchId });
      await this.ledger.bookProviderFee(manager, trade.id, ENTRY.payoutFee, payout.feeUsd);
      await this.trades.clearSettlementFailing(manager, trade.id);
      if (refundCameBack) await this.bookRefundCameBack(manager, trade.id, 1, split.travelerUsd, 'returned');
      if (payout.cameBack) await this.bookPayoutCameBack(manager, trade.id, 1, netUsd, payout.itemStatus!);
    });
    return 'settled_split';
  }

  private async recordRefund(tradeId: string, funding: FundingRecord, refundId: string): Promise<void> {
    if (funding.refundId) return;
    await this.dataSource.transaction((manager) => this.fundings.recordStep(manager, tradeId, 'refund_id', refundId));
  }

  /**
   * Pays the counterparty the USD less the fee by PayPal payout, under the attempt's one payout batch id, and
   * returns the payout once PayPal has finished with it (NotYet while it is processing): paid (SUCCESS, or
   * UNCLAIMED: the money has left us and waits for the receiver), or came back (failed, blocked, returned).
   */
  private async payOut(trade: Trade, funding: FundingRecord, netUsd: bigint): Promise<PaypalPayout & { cameBack: boolean }> {
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
    const cameBack = !!batch.itemStatus && PAYOUT_CAME_BACK.includes(batch.itemStatus);
    if (!cameBack && batch.itemStatus !== 'SUCCESS' && batch.itemStatus !== 'UNCLAIMED') {
      throw new NotYet(`payout ${batchId} is ${batch.itemStatus ?? batch.batchStatus}`);
    }
    if (batch.itemId && !funding.payoutItemId) {
      await this.dataSource.transaction((manager) => this.fundings.recordStep(manager, trade.id, 'payout_item_id', batch.itemId!));
    }
    return { ...batch, cameBack };
  }

  /**
   * A bank return to the traveler (the refund, or the traveler's part of a split) for one attempt; pending is
   * NotYet. `cameBack` when the bank refused it or the traveler's bank sent it back.
   */
  private async returnToTraveler(
    trade: Trade,
    funding: FundingRecord,
    amountUsd: bigint,
  ): Promise<{ returnId: string; cameBack: boolean }> {
    const attempt = funding.refundAttempt;
    const returned = await this.bank.returnTransfer({
      transferId: funding.bankTransferId!,
      amountUsd,
      requestId: attempt === 1 ? stepRequestId(trade.id, 'refund') : `${stepRequestId(trade.id, 'refund')}-${attempt}`,
    });
    await this.recordRefund(trade.id, funding, returned.transferId);
    if (returned.status === 'pending') throw new NotYet(`bank return ${returned.transferId} is pending`);
    return { returnId: returned.transferId, cameBack: returned.status !== 'settled' };
  }

  /** Pays out and completes a release; a payout that came back at once completes it all the same, owed again and flagged. */
  private async release(trade: Trade, funding: FundingRecord, detail: Record<string, unknown>): Promise<void> {
    const netUsd = trade.amountUsd - trade.feeUsd;
    const payout = await this.payOut(trade, funding, netUsd);
    await this.dataSource.transaction(async (manager) => {
      await this.tradesService.completeRelease(manager, trade.id, { ...detail, payoutBatchId: payout.batchId });
      await this.ledger.bookProviderFee(manager, trade.id, ENTRY.payoutFee, payout.feeUsd);
      await this.trades.clearSettlementFailing(manager, trade.id);
      if (payout.cameBack) await this.bookPayoutCameBack(manager, trade.id, 1, netUsd, payout.itemStatus!);
    });
  }

  /**
   * An ended trade's money that came back afterwards: its payout (completed, split), returned by PayPal; its
   * bank refund (refunded, split), sent back by the traveler's bank. Each is booked back to its payable, the
   * trade flagged and its state unchanged; an operator's retry starts the next attempt of each leg that
   * came back, and the flag clears when nothing is owed any more.
   */
  private async afterTheEnd(trade: Trade, funding: FundingRecord): Promise<AfterTheEnd> {
    const outcomes: AfterTheEnd[] = [];
    if (trade.state !== 'refunded') outcomes.push(await this.payoutAfterTheEnd(trade, funding));
    if (trade.state !== 'completed' && funding.provider === 'bank_transfer') outcomes.push(await this.refundAfterTheEnd(trade, funding));
    return outcomes.find((outcome) => outcome !== 'nothing') ?? 'nothing';
  }

  private async payoutAfterTheEnd(trade: Trade, funding: FundingRecord): Promise<AfterTheEnd> {
    const attempt = funding.payoutAttempt;
    const netUsd = await this.paidOutUsd(trade);
    if (funding.payoutReturned) return 'nothing';
    if (attempt > 1 && !(await this.ledger.payoutRepaidAlready(trade.id, attempt))) {
      // An operator's retry: pay again.
      const payout = await this.payOut(trade, funding, netUsd);
      return this.dataSource.transaction(async (manager) => {
        // Under the trade's row lock: a webhook's job and the retry's may both get here; one books it.
        await this.trades.lockState(manager, trade.id);
        if (await this.ledger.payoutRepaidAlready(trade.id, attempt, manager)) return 'nothing';
        if (payout.cameBack) {
          // Never paid: the payable is still open. This attempt is over, so the next retry can start.
          await this.fundings.markReturnedAfterEnd(manager, trade.id, 'payout', attempt);
          await this.tellParties(manager, trade.id, { provider: 'paypal', payout: payout.itemStatus, attempt });
          return 'payout_returned';
        }
        await this.ledger.payoutRepaid(manager, trade.id, attempt, netUsd);
        await this.ledger.bookProviderFee(manager, trade.id, payoutAttemptEntry(ENTRY.payoutFee, attempt), payout.feeUsd);
        await this.clearFlagIfNothingOwed(manager, trade.id);
        return 'repaid';
      });
    }
    if (!funding.payoutBatchId) return 'nothing';
    const batch = await this.paypal.getPayoutBatch(funding.payoutBatchId);
    if (!batch.itemStatus || !PAYOUT_CAME_BACK.includes(batch.itemStatus)) return 'nothing';
    const booked = await this.dataSource.transaction((manager) =>
      this.bookPayoutCameBack(manager, trade.id, attempt, netUsd, batch.itemStatus!),
    );
    return booked ? 'payout_returned' : 'nothing';
  }

  private async refundAfterTheEnd(trade: Trade, funding: FundingRecord): Promise<AfterTheEnd> {
    if (!funding.bankTransferId || funding.refundReturned) return 'nothing';
    const attempt = funding.refundAttempt;
    const amountUsd =
      trade.state === 'refunded' ? trade.amountUsd : (await this.trades.splitOf(this.dataSource.manager, trade.id))!.travelerUsd;
    if (attempt > 1 && !(await this.ledger.refundRepaidAlready(trade.id, attempt))) {
      // An operator's retry: send it again (the traveler's account open once more).
      const { cameBack } = await this.returnToTraveler(trade, funding, amountUsd);
      return this.dataSource.transaction(async (manager) => {
        await this.trades.lockState(manager, trade.id);
        if (await this.ledger.refundRepaidAlready(trade.id, attempt, manager)) return 'nothing';
        if (cameBack) {
          await this.fundings.markReturnedAfterEnd(manager, trade.id, 'refund', attempt);
          await this.tellParties(manager, trade.id, { provider: 'bank_transfer', refund: 'returned', attempt });
          return 'refund_returned';
        }
        await this.ledger.refundRepaid(manager, trade.id, attempt, amountUsd);
        await this.clearFlagIfNothingOwed(manager, trade.id);
        return 'refund_repaid';
      });
    }
    if (!funding.refundId) return 'nothing';
    const refund = await this.bank.getTransfer(funding.refundId);
    if (refund.status !== 'returned') return 'nothing';
    const booked = await this.dataSource.transaction((manager) =>
      this.bookRefundCameBack(manager, trade.id, attempt, amountUsd, refund.status),
    );
    return booked ? 'refund_returned' : 'nothing';
  }

  /** A paid payout came back: marked once, booked back to the counterparty's payable, the trade flagged, the parties told. */
  private async bookPayoutCameBack(
    manager: EntityManager,
    tradeId: string,
    attempt: number,
    netUsd: bigint,
    status: string,
  ): Promise<boolean> {
    if (!(await this.fundings.markReturnedAfterEnd(manager, tradeId, 'payout', attempt))) return false;
    await this.ledger.payoutReturned(manager, tradeId, attempt, netUsd);
    await this.trades.flagReturnedAfterEnd(manager, tradeId);
    await this.tellParties(manager, tradeId, { provider: 'paypal', payout: status, attempt, amountUsd: formatAmount(netUsd, 'USD') });
    return true;
  }

  /** A paid bank refund came back: the same, to the traveler's refund payable. */
  private async bookRefundCameBack(
    manager: EntityManager,
    tradeId: string,
    attempt: number,
    amountUsd: bigint,
    status: string,
  ): Promise<boolean> {
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

  private async tellParties(manager: EntityManager, tradeId: string, detail: Record<string, unknown>): Promise<void> {
    await this.trades.insertEvent(manager, tradeId, {
      actor: { kind: 'system', id: null },
      type: 'provider_event',
      fromState: null,
      toState: null,
      detail,
    });
  }

  /** The flag of an ended trade stays while any leg is owed: came back, or paid again but not yet confirmed. */
  private async clearFlagIfNothingOwed(manager: EntityManager, tradeId: string): Promise<void> {
    const funding = (await this.fundings.find(tradeId, manager))!;
    const owed =
      funding.payoutReturned ||
      funding.refundReturned ||
      (funding.payoutAttempt > 1 && !(await this.ledger.payoutRepaidAlready(tradeId, funding.payoutAttempt, manager))) ||
      (funding.refundAttempt > 1 && !(await this.ledger.refundRepaidAlready(tradeId, funding.refundAttempt, manager)));
    if (!owed) await this.trades.clearSettlementFailing(manager, tradeId);
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
