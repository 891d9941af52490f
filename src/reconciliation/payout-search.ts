import { Inject, Injectable } from '@nestjs/common';
import { formatAmount } from '../common/money';
import {
  PAYOUT_EVENT_CODE,
  PAYPAL_READS,
  PaypalPayoutBatch,
  PaypalReadPort,
  SEARCH_WINDOW_MAX_MS,
} from '../payments/providers/paypal/paypal-reads.port';
import { batchSubject, Finding, MISMATCH, ProviderSearchResult } from './mismatch';
import { payoutOwner, unlessMissing } from './paypal-checks';
import { ReconciliationRepository } from './reconciliation.repository';

const PAGE_SIZE = 500;
// A bound on one run's search; what is left is searched by the next run.
const MAX_PAGES = 40;

/** Its orphans: payouts no trade of ours owns. */
export interface PayoutSearchResult extends ProviderSearchResult {
  /** Batches PayPal made for trades whose funding does not record them, by trade. */
  batchesByTrade: Map<string, string[]>;
}

/**
 * The other direction of reconciliation: every payout PayPal made from the account in the window (Transaction
 * Search, event T0001) must belong to a trade. A batch the trade's funding records is the per-trade check's;
 * any other is fetched, and its `sender_batch_id` names the trade (and attempt) it was for, or nobody.
 */
@Injectable()
export class PayoutSearch {
  constructor(
    @Inject(PAYPAL_READS) private readonly paypal: PaypalReadPort,
    private readonly repository: ReconciliationRepository,
  ) {}

  async search(from: Date, until: Date): Promise<PayoutSearchResult> {
    const result: PayoutSearchResult = { batchesByTrade: new Map(), orphans: [], orphanSubjects: [], searchedUntil: from };
    const unknown = new Map<string, Date>();
    let pages = 0;
    let start = from;
    while (start < until && pages < MAX_PAGES) {
      const end = new Date(Math.min(until.getTime(), start.getTime() + SEARCH_WINDOW_MAX_MS));
      let page = 1;
      let totalPages: number;
      let complete = true;
      do {
        const found = await this.paypal.searchTransactions({ start, end, eventCode: PAYOUT_EVENT_CODE, page, pageSize: PAGE_SIZE });
        totalPages = found.totalPages;
        const known = await this.repository.tradesOfBatches(
          found.transactions.map((t) => t.referenceId).filter((id): id is string => !!id),
        );
        for (const t of found.transactions) if (t.referenceId && !known.has(t.referenceId)) unknown.set(t.referenceId, t.initiatedAt);
        pages += 1;
        page += 1;
        if (pages >= MAX_PAGES && page <= totalPages) {
          // Out of pages for this run: the next one starts from the last transaction read.
          complete = false;
          result.searchedUntil = found.transactions.at(-1)?.initiatedAt ?? start;
          break;
        }
      } while (page <= totalPages);
      if (!complete) break;
      result.searchedUntil = end;
      start = end;
    }
    await this.place([...unknown.keys()], result);
    for (const batchId of await this.repository.openOrphans('paypal-batch:')) {
      if (unknown.has(batchId)) continue;
      // An orphan found earlier: still at PayPal (still unexplained), or gone.
      result.orphanSubjects.push(batchSubject(batchId));
      const batch = await unlessMissing(() => this.paypal.getPayoutBatchItems(batchId));
      if (batch) result.orphans.push(orphan(batch));
    }
    return result;
  }

  /** Fetches each unknown batch and files it under the trade its sender_batch_id names, or as an orphan. */
  private async place(batchIds: string[], result: PayoutSearchResult): Promise<void> {
    const batches: PaypalPayoutBatch[] = [];
    for (const batchId of batchIds) {
      const batch = await unlessMissing(() => this.paypal.getPayoutBatchItems(batchId));
      if (batch) batches.push(batch);
    }
    const owners = batches.map((batch) => ({ batch, owner: payoutOwner(batch.senderBatchId) }));
    const trades = await this.repository.existingTrades(owners.flatMap(({ owner }) => (owner ? [owner.tradeId] : [])));
    for (const { batch, owner } of owners) {
      // A batch still processing is searched again next run, so its final status is seen: the search resumes before it.
      const pending = ['PENDING', 'PROCESSING'].includes(batch.batchStatus) || batch.items.some((item) => item.status === 'PENDING');
      if (pending && batch.createdAt && batch.createdAt < result.searchedUntil)
        result.searchedUntil = new Date(batch.createdAt.getTime() - 1);
      if (owner && trades.has(owner.tradeId)) {
        result.batchesByTrade.set(owner.tradeId, [...(result.batchesByTrade.get(owner.tradeId) ?? []), batch.batchId]);
      } else {
        result.orphanSubjects.push(batchSubject(batch.batchId));
        result.orphans.push(orphan(batch));
      }
    }
  }
}

function orphan(batch: PaypalPayoutBatch): Finding {
  const item = batch.items[0];
  return {
    kind: MISMATCH.payoutUnknownToLedger,
    subject: batchSubject(batch.batchId),
    tradeId: null,
    ledger: null,
    provider: {
      payoutBatchId: batch.batchId,
      senderBatchId: batch.senderBatchId,
      itemStatus: item?.status ?? null,
      amountUsd: item ? formatAmount(item.amountUsd, 'USD') : null,
    },
    detail: 'PayPal paid out from the platform account for no trade of ours',
  };
}
