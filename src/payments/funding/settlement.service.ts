import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { FieldEncryption } from '../../common/crypto/field-encryption';
import { ENTRY, LedgerService } from '../../ledger/ledger.service';
import { TradesRepository } from '../../trades/trades.repository';
import { TradesService } from '../../trades/trades.service';
import { HANDLE_CONTEXT } from '../../users/users.service';
import { PAYPAL, PaypalApiError, PaypalPort } from '../providers/paypal/paypal.port';
import { FundingRepository } from './funding.repository';
import { NotYet, stepRequestId } from './funding.service';

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
  ) {}

  async settle(tradeId: string): Promise<'completed' | 'refunded' | 'nothing'> {
    const trade = await this.trades.find(tradeId);
    const funding = await this.fundings.find(tradeId);
    // Trades funded outside PayPal (or not at all) have nothing to settle here.
    if (!trade || !funding?.authorizationId) return 'nothing';
    const authorizationId = funding.authorizationId;

    if (trade.state === 'releasing') {
      const captureId = funding.captureId ?? (await this.capture(tradeId, authorizationId));
      let batchId = funding.payoutBatchId;
      if (!batchId) {
        const sealed = await this.trades.counterpartyPaypalOf(tradeId);
        const receiverEmail = this.encryption.decrypt(sealed!, HANDLE_CONTEXT.paypalEmail);
        const payout = await this.paypal.createPayout({
          senderBatchId: stepRequestId(tradeId, 'payout'),
          receiverEmail,
          amountUsd: trade.amountUsd - trade.feeUsd,
          note: `Yuanbridge trade ${tradeId}`,
        });
        batchId = payout.batchId;
        await this.dataSource.transaction(async (manager) => {
          await this.fundings.recordStep(manager, tradeId, 'payout_batch_id', payout.batchId);
          if (payout.itemId) await this.fundings.recordStep(manager, tradeId, 'payout_item_id', payout.itemId);
        });
      }
      const batch = await this.paypal.getPayoutBatch(batchId);
      // A payout that reached a final status other than SUCCESS is a failure operators must see, not a wait.
      if (batch.itemStatus && ['FAILED', 'UNCLAIMED', 'RETURNED', 'BLOCKED', 'REFUNDED', 'REVERSED'].includes(batch.itemStatus)) {
        throw new Error(`Payout ${batchId} is ${batch.itemStatus}`);
      }
      if (batch.itemStatus !== 'SUCCESS') throw new NotYet(`payout ${batchId} is ${batch.itemStatus ?? batch.batchStatus}`);
      await this.dataSource.transaction(async (manager) => {
        if (batch.itemId) await this.fundings.recordStep(manager, tradeId, 'payout_item_id', batch.itemId);
        await this.tradesService.completeRelease(manager, tradeId, { provider: 'paypal', captureId, payoutBatchId: batchId });
        await this.ledger.bookProviderFee(manager, tradeId, ENTRY.payoutFee, batch.feeUsd);
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
