import { Inject, Injectable } from '@nestjs/common';
import { formatAmount } from '../common/money';
import { ENTRY, payoutAttemptEntry, suspenseEntry } from '../ledger/ledger.service';
import { BANK, BankApiError, BankPort, BankTransfer } from '../payments/providers/bank/bank.port';
import { WECHAT, WechatPort } from '../payments/providers/wechat/wechat.port';
import { MISMATCH, TradeFacts } from './mismatch';
import { Outcome } from './paypal-checks';

const usd = (cents: bigint | null) => (cents === null ? null : formatAmount(cents, 'USD'));

async function bankUnlessMissing(read: () => Promise<BankTransfer>): Promise<BankTransfer | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof BankApiError && error.status === 404) return null;
    throw error;
  }
}

const transferOf = (t: BankTransfer) => ({
  transferId: t.transferId,
  direction: t.direction,
  status: t.status,
  amountUsd: usd(t.amountUsd),
  returnsTransferId: t.returnsTransferId,
});

/**
 * A bank-funded trade against the bank (its incoming transfers, the refund, suspense sent back), and a trade's
 * WeChat transfer against WeChat. Reads only.
 */
@Injectable()
export class BankAndWechatChecks {
  constructor(
    @Inject(BANK) private readonly bank: BankPort,
    @Inject(WECHAT) private readonly wechat: WechatPort,
  ) {}

  /** `extraTransferIds`: incoming transfers a search filed under this trade (their reference as typed may differ). */
  async checkBank(trade: TradeFacts, out: Outcome, extraTransferIds: string[] = []): Promise<void> {
    const funding = trade.funding!;
    // Incoming money: every settled transfer with the trade's reference was decided, for the bank's amount.
    const listed = funding.bankReference ? await this.bank.incomingByReference(funding.bankReference) : [];
    const known = new Map(trade.incoming.map((i) => [i.transferId, i]));
    for (const transferId of new Set(extraTransferIds)) {
      if (known.has(transferId) || listed.some((t) => t.transferId === transferId)) continue;
      const transfer = await bankUnlessMissing(() => this.bank.getTransfer(transferId));
      if (transfer) listed.push(transfer);
    }
    for (const transfer of listed) {
      if (transfer.status === 'settled' && !known.has(transfer.transferId))
        out.add(
          MISMATCH.bankIncomingUnknownToLedger,
          "The bank settled a transfer with the trade's reference that the books never took",
          null,
          transferOf(transfer),
        );
    }
    for (const mine of trade.incoming) {
      // References are typed by people: a transfer the exact-reference list missed is asked for by id.
      const transfer =
        listed.find((t) => t.transferId === mine.transferId) ?? (await bankUnlessMissing(() => this.bank.getTransfer(mine.transferId)));
      const ledger = { transferId: mine.transferId, amountUsd: usd(mine.amountUsd), suspenseUsd: usd(mine.suspenseUsd) };
      if (!transfer)
        out.add(MISMATCH.ledgerEntryUnknownToProvider, 'The bank has no incoming transfer by the id the books took', ledger, null);
      else if (transfer.amountUsd !== mine.amountUsd)
        out.add(MISMATCH.bankIncomingAmountMismatch, 'The books took another amount than the bank received', ledger, transferOf(transfer));
      if (mine.suspenseUsd > 0n && mine.returnId) await this.checkSuspenseReturn(trade, mine, out);
    }
    await this.checkBankRefund(trade, out);
  }

  private async checkSuspenseReturn(trade: TradeFacts, mine: TradeFacts['incoming'][number], out: Outcome): Promise<void> {
    const returned = await bankUnlessMissing(() => this.bank.getTransfer(mine.returnId!));
    const ledger = {
      transferId: mine.transferId,
      returnId: mine.returnId,
      suspenseUsd: usd(mine.suspenseUsd),
      bookedOut: trade.entries.has(suspenseEntry('out', mine.transferId)),
      bookedBack: trade.entries.has(`suspense_bounced:${mine.transferId}`),
    };
    if (!returned) {
      out.add(MISMATCH.ledgerEntryUnknownToProvider, 'The bank has no return by the id recorded for the suspense', ledger, null);
      return;
    }
    if (returned.status === 'pending') out.watchFor('suspense return pending');
    if (returned.status === 'settled') {
      out.watchFor('suspense return may bounce');
      if (!ledger.bookedOut && mine.returnedAt === null)
        out.add(
          MISMATCH.suspenseReturnNotBooked,
          'The bank settled the return of the suspense; the books still hold it',
          ledger,
          transferOf(returned),
        );
    }
    if (returned.status === 'returned' && !ledger.bookedBack)
      out.add(
        MISMATCH.bankReturnBouncedNotBooked,
        'The return of the suspense bounced and the books have not booked it back',
        ledger,
        transferOf(returned),
      );
  }

  /** The bank return of a refunded trade (all of it) or of a split's traveler part, against its attempt's entries. */
  private async checkBankRefund(trade: TradeFacts, out: Outcome): Promise<void> {
    const funding = trade.funding!;
    const expected = trade.state === 'refunded' ? trade.amountUsd : trade.state === 'settled_split' ? trade.splitTravelerUsd : null;
    if (expected !== null && !funding.refundId) {
      out.add(MISMATCH.refundMissing, `The trade is ${trade.state} and no bank return is recorded`, { expectedUsd: usd(expected) }, null);
      return;
    }
    if (!funding.refundId) return;
    const attempt = funding.refundAttempt;
    const returnedKind = payoutAttemptEntry('refund_returned', attempt);
    const ledger = {
      returnId: funding.refundId,
      expectedUsd: usd(expected),
      cleared: trade.entries.has(payoutAttemptEntry(ENTRY.refundCleared, attempt)),
      bookedBack: trade.entries.has(returnedKind),
    };
    const transfer = await bankUnlessMissing(() => this.bank.getTransfer(funding.refundId!));
    if (!transfer) {
      out.add(MISMATCH.ledgerEntryUnknownToProvider, 'The bank has no return by the id the trade recorded', ledger, null);
      return;
    }
    const provider = transferOf(transfer);
    if (transfer.status === 'pending') out.watchFor('bank return pending');
    if (transfer.status === 'settled') out.watchFor('bank return may bounce');
    if (expected !== null && transfer.amountUsd !== expected)
      out.add(MISMATCH.refundAmountMismatch, 'The bank returned another amount than the trade refunded', ledger, provider);
    // Refused (failed) or sent back by the traveler's bank (returned): owed again, so the books must say so.
    if ((transfer.status === 'returned' || transfer.status === 'failed') && expected !== null && !ledger.bookedBack)
      out.add(
        MISMATCH.bankReturnBouncedNotBooked,
        `The bank has the refund ${transfer.status} and the books have not booked it back`,
        ledger,
        provider,
      );
  }

  /** A released or completed trade's WeChat transfer: known to WeChat, SUCCESS, for the trade's CNY. */
  async checkWechat(trade: TradeFacts, out: Outcome): Promise<void> {
    if (!trade.wechatTransferId || !['releasing', 'completed'].includes(trade.state)) return;
    // A reported transfer that did not verify opens a dispute; an operator's release is the answer to it, and so is
    // the traveler's own confirmation that the RMB arrived: neither is a mismatch to keep open for ever.
    if (trade.decidedByOperator || trade.releasedOnTravelerWord) return;
    const transfer = await this.wechat.getTransfer(trade.wechatTransferId);
    const ledger = { wechatTransferId: trade.wechatTransferId, amountCny: formatAmount(trade.amountCny, 'CNY'), state: trade.state };
    if (!transfer) {
      out.add(MISMATCH.wechatTransferMismatch, 'WeChat has no transfer by the id the trade claims', ledger, null);
      return;
    }
    const provider = { transferId: transfer.transferId, state: transfer.state, amountCny: formatAmount(transfer.amountFen, 'CNY') };
    // Released on the traveler's word while WeChat still processes it: asked about again until it is final.
    if (transfer.state === 'PROCESSING') out.watchFor('wechat transfer processing');
    else if (transfer.state !== 'SUCCESS')
      out.add(MISMATCH.wechatTransferMismatch, `WeChat has the transfer ${transfer.state}`, ledger, provider);
    else if (transfer.amountFen !== trade.amountCny)
      out.add(MISMATCH.wechatTransferMismatch, 'The WeChat transfer is for another amount than the trade', ledger, provider);
  }
}
