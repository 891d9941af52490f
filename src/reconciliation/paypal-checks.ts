import { Inject, Injectable } from '@nestjs/common';
import { formatAmount } from '../common/money';
import { ENTRY, payoutAttemptEntry } from '../ledger/ledger.service';
import { PaypalApiError } from '../payments/providers/paypal/paypal.port';
import { PAYPAL_READS, PaypalPayoutBatch, PaypalReadPort } from '../payments/providers/paypal/paypal-reads.port';
import { Finding, MISMATCH, MismatchKind, TradeFacts } from './mismatch';
import { isSettling } from '../trades/trade.state-machine';

/** Final payout item statuses under which the money did not, or no longer, reach the receiver. */
export const PAYOUT_CAME_BACK = ['FAILED', 'RETURNED', 'BLOCKED', 'REFUNDED', 'REVERSED'];
/** The money has left the platform: paid, or waiting for the receiver to claim it (which may still come back). */
const PAYOUT_LEFT = ['SUCCESS', 'UNCLAIMED'];

const usd = (cents: bigint | undefined | null) => (cents === undefined || cents === null ? null : formatAmount(cents, 'USD'));

/** The trade and attempt a payout's `sender_batch_id` names (`yb-<trade>-payout`, `-payout-<n>` for a payout paid again). */
export function payoutOwner(senderBatchId: string | null): { tradeId: string; attempt: number } | null {
  const match = /^yb-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-payout(?:-(\d{1,4}))?$/.exec(senderBatchId ?? '');
  return match ? { tradeId: match[1], attempt: match[2] ? Number(match[2]) : 1 } : null;
}

/** A read whose "no such record" is an answer (null); any other failure leaves the trade inconclusive. */
export async function unlessMissing<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof PaypalApiError && error.status === 404) return null;
    throw error;
  }
}

export interface CheckContext {
  now: number;
  graceMs: number;
}

/** Findings and whether the trade needs looking at again next run. */
export class Outcome {
  readonly findings: Finding[] = [];
  watch: string | null = null;

  constructor(private readonly trade: TradeFacts) {}

  add(kind: MismatchKind, detail: string, ledger: Record<string, unknown> | null, provider: Record<string, unknown> | null): void {
    this.findings.push({ kind, subject: this.trade.id, tradeId: this.trade.id, ledger, provider, detail });
  }

  watchFor(reason: string): void {
    this.watch ??= reason;
  }
}

/**
 * A PayPal trade against PayPal: the authorization and what the books hold, the capture and its fee, the refund,
 * and every payout batch of the trade (the one its funding records, and any a search found) against the payout
 * entries of the attempt the batch's `sender_batch_id` names. Reads only.
 */
@Injectable()
export class PaypalChecks {
  constructor(@Inject(PAYPAL_READS) private readonly paypal: PaypalReadPort) {}

  async checkFunding(trade: TradeFacts, out: Outcome, ctx: CheckContext): Promise<void> {
    const funding = trade.funding!;
    const hold = trade.entries.get(ENTRY.hold) ?? null;
    const settlingYoung = isSettling(trade.state) && ctx.now - trade.updatedAt.getTime() < ctx.graceMs;
    if (funding.authorizationId) {
      const auth = await unlessMissing(() => this.paypal.getAuthorization(funding.authorizationId!));
      if (!auth) {
        if (hold !== null)
          out.add(
            MISMATCH.ledgerEntryUnknownToProvider,
            'PayPal has no authorization by the id the escrow hold rests on',
            ledgerOf(trade, ENTRY.hold),
            {
              authorizationId: funding.authorizationId,
            },
          );
      } else {
        const provider = { authorizationId: auth.authorizationId, status: auth.status, amountUsd: usd(auth.amountUsd) };
        const voided = trade.entries.has(ENTRY.holdVoided);
        const captured = auth.status === 'CAPTURED' || auth.status === 'PARTIALLY_CAPTURED';
        if (hold !== null && auth.amountUsd !== hold)
          out.add(
            MISMATCH.authorizationAmountMismatch,
            'The authorization is for another amount than the escrow hold',
            ledgerOf(trade, ENTRY.hold),
            provider,
          );
        if (
          hold !== null &&
          !voided &&
          !trade.entries.has(ENTRY.holdPosted) &&
          !funding.captureId &&
          ['VOIDED', 'EXPIRED'].includes(auth.status)
        ) {
          // A refund voids at PayPal first and books it just after: only a void the books stay behind on counts.
          if (settlingYoung) out.watchFor('void being booked');
          else
            out.add(
              MISMATCH.authorizationLost,
              `The books hold the authorization; PayPal has it ${auth.status}`,
              ledgerOf(trade, ENTRY.hold),
              provider,
            );
        }
        if (voided && !funding.captureId && (auth.status === 'CREATED' || captured))
          out.add(
            MISMATCH.voidMissing,
            `The books voided the hold; PayPal has the authorization ${auth.status}`,
            ledgerOf(trade, ENTRY.holdVoided),
            provider,
          );
        if (captured && !funding.captureId) {
          if (settlingYoung) out.watchFor('capture in flight');
          else out.add(MISMATCH.captureUnknownToLedger, 'PayPal captured the authorization; the books know no capture', null, provider);
        }
      }
    }
    const captureFee = trade.entries.get(ENTRY.captureFee) ?? null;
    if (funding.captureId) {
      const capture = await unlessMissing(() => this.paypal.getCapture(funding.captureId!));
      const ledger = { captureId: funding.captureId, holdUsd: usd(hold), captureFeeUsd: usd(captureFee) };
      if (!capture) {
        out.add(MISMATCH.ledgerEntryUnknownToProvider, 'PayPal has no capture by the id the trade recorded', ledger, null);
      } else {
        const provider = {
          captureId: capture.captureId,
          status: capture.status,
          amountUsd: usd(capture.amountUsd),
          feeUsd: usd(capture.paypalFeeUsd),
        };
        if (hold !== null && capture.amountUsd !== hold)
          out.add(MISMATCH.captureAmountMismatch, 'The capture is for another amount than the escrow hold', ledger, provider);
        if ((captureFee ?? 0n) !== capture.paypalFeeUsd)
          out.add(MISMATCH.captureFeeMismatch, "The books' capture fee is not PayPal's", ledger, provider);
      }
    } else if (captureFee !== null) {
      out.add(
        MISMATCH.ledgerEntryUnknownToProvider,
        'A capture fee is booked, and no capture is recorded',
        ledgerOf(trade, ENTRY.captureFee),
        null,
      );
    }
    await this.checkRefund(trade, out);
  }

  /** A refund of the capture: the whole trade when refunded after a capture, the traveler's part of a split. */
  private async checkRefund(trade: TradeFacts, out: Outcome): Promise<void> {
    const funding = trade.funding!;
    const expected =
      trade.state === 'refunded' && funding.captureId ? trade.amountUsd : trade.state === 'settled_split' ? trade.splitTravelerUsd : null;
    if (expected !== null && !funding.refundId) {
      out.add(MISMATCH.refundMissing, `The trade is ${trade.state} and no PayPal refund is recorded`, { expectedUsd: usd(expected) }, null);
      return;
    }
    if (!funding.refundId) return;
    const refund = await unlessMissing(() => this.paypal.getRefund(funding.refundId!));
    const ledger = { refundId: funding.refundId, expectedUsd: usd(expected) };
    if (!refund) {
      out.add(MISMATCH.ledgerEntryUnknownToProvider, 'PayPal has no refund by the id the trade recorded', ledger, null);
      return;
    }
    const provider = { refundId: refund.refundId, status: refund.status, amountUsd: usd(refund.amountUsd), captureId: refund.captureId };
    if (refund.status === 'PENDING') out.watchFor('refund pending');
    else if (refund.status !== 'COMPLETED') out.add(MISMATCH.refundMissing, `PayPal has the refund ${refund.status}`, ledger, provider);
    if (expected !== null && refund.amountUsd !== expected)
      out.add(MISMATCH.refundAmountMismatch, 'The refund is for another amount than the trade refunded', ledger, provider);
  }

  /**
   * Payouts (PayPal and bank trades are both paid out by PayPal). The books' payout of the current attempt must
   * rest on a batch PayPal has, for the same amount; every batch of the trade that paid must be in the books.
   */
  async checkPayouts(trade: TradeFacts, extraBatchIds: string[], out: Outcome, ctx: CheckContext): Promise<void> {
    const funding = trade.funding!;
    const attempt = funding.payoutAttempt;
    const cleared = trade.entries.get(payoutAttemptEntry(ENTRY.payoutCleared, attempt)) ?? null;
    if (cleared !== null && !funding.payoutBatchId) {
      out.add(
        MISMATCH.ledgerEntryUnknownToProvider,
        'A payout is booked, and no PayPal payout batch is recorded',
        ledgerOf(trade, payoutAttemptEntry(ENTRY.payoutCleared, attempt)),
        null,
      );
    }
    const batchIds = [...new Set([funding.payoutBatchId, ...extraBatchIds].filter((id): id is string => !!id))];
    for (const batchId of batchIds) {
      const batch = await unlessMissing(() => this.paypal.getPayoutBatchItems(batchId));
      const recorded = batchId === funding.payoutBatchId;
      if (!batch) {
        if (recorded)
          out.add(
            MISMATCH.ledgerEntryUnknownToProvider,
            'PayPal has no payout batch by the id the trade recorded',
            { payoutBatchId: batchId, ...ledgerOf(trade, payoutAttemptEntry(ENTRY.payoutCleared, attempt)) },
            null,
          );
        continue;
      }
      const owner = payoutOwner(batch.senderBatchId);
      if (owner?.tradeId !== trade.id) {
        if (recorded)
          out.add(
            MISMATCH.ledgerEntryUnknownToProvider,
            'The payout batch the trade recorded pays another payout',
            { payoutBatchId: batchId },
            providerOf(batch),
          );
        continue;
      }
      this.checkBatch(trade, owner.attempt, batch, out, ctx);
    }
  }

  private checkBatch(trade: TradeFacts, attempt: number, batch: PaypalPayoutBatch, out: Outcome, ctx: CheckContext): void {
    const item = batch.items[0];
    const clearedKind = payoutAttemptEntry(ENTRY.payoutCleared, attempt);
    const cleared = trade.entries.get(clearedKind) ?? null;
    const provider = providerOf(batch);
    if (
      !item ||
      item.status === 'PENDING' ||
      item.status === 'ONHOLD' ||
      batch.batchStatus === 'PENDING' ||
      batch.batchStatus === 'PROCESSING'
    ) {
      out.watchFor('payout pending');
      return;
    }
    if (PAYOUT_LEFT.includes(item.status)) {
      if (item.status === 'UNCLAIMED') out.watchFor('payout unclaimed');
      if (cleared === null) {
        const young = batch.createdAt !== null && ctx.now - batch.createdAt.getTime() < ctx.graceMs;
        if (young && isSettling(trade.state)) out.watchFor('payout being booked');
        else
          out.add(
            MISMATCH.payoutUnknownToLedger,
            `PayPal paid out ${usd(item.amountUsd)} (${item.status}) and the books have no payout of attempt ${attempt}; the trade is ${trade.state}`,
            { entry: clearedKind, amountUsd: null, state: trade.state },
            provider,
          );
        return;
      }
      if (cleared !== item.amountUsd)
        out.add(MISMATCH.payoutAmountMismatch, 'The books paid out another amount than PayPal', ledgerOf(trade, clearedKind), provider);
      const feeKind = payoutAttemptEntry(ENTRY.payoutFee, attempt);
      if ((trade.entries.get(feeKind) ?? 0n) !== item.feeUsd)
        out.add(MISMATCH.payoutFeeMismatch, "The books' payout fee is not PayPal's", ledgerOf(trade, feeKind), provider);
      return;
    }
    if (PAYOUT_CAME_BACK.includes(item.status) && cleared !== null) {
      const returnedKind = payoutAttemptEntry('payout_returned', attempt);
      if (!trade.entries.has(returnedKind))
        out.add(
          MISMATCH.payoutReturnedNotBooked,
          `PayPal has the payout ${item.status} and the books have not booked it back`,
          { entry: returnedKind, amountUsd: null, paidUsd: usd(cleared) },
          provider,
        );
    }
  }
}

export function ledgerOf(trade: TradeFacts, kind: string): Record<string, unknown> {
  return { entry: kind, amountUsd: usd(trade.entries.get(kind) ?? null), state: trade.state };
}

function providerOf(batch: PaypalPayoutBatch): Record<string, unknown> {
  const item = batch.items[0];
  return {
    payoutBatchId: batch.batchId,
    senderBatchId: batch.senderBatchId,
    batchStatus: batch.batchStatus,
    itemStatus: item?.status ?? null,
    amountUsd: usd(item?.amountUsd),
    feeUsd: usd(item?.feeUsd),
  };
}
