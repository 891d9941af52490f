import { Inject, Injectable } from '@nestjs/common';
import { formatAmount } from '../common/money';
import { normalizeBankReference } from '../payments/funding/bank-funding.service';
import { BankTransfersRepository } from '../payments/funding/bank-transfers.repository';
import { BANK, BankApiError, BankPort, BankTransfer } from '../payments/providers/bank/bank.port';
import { bankTransferSubject, MISMATCH, ProviderSearchResult } from './mismatch';
import { ReconciliationRepository } from './reconciliation.repository';

const PAGE_SIZE = 500;
// A bound on one run's search; what is left is searched by the next run.
const MAX_PAGES = 20;

/** Its orphans: settled incoming transfers whose reference names no trade. */
export interface BankSearchResult extends ProviderSearchResult {
  /** Settled incoming transfers the books never took, by the trade their reference names. */
  transfersByTrade: Map<string, string[]>;
}

/**
 * Every incoming transfer the bank settled in the window must have been decided by the books (funded, or held
 * in suspense): one the callback and the poll both missed (a trade no longer waiting for funding is not polled)
 * is money at the bank the books do not know. Its reference files it under its trade, or under nobody.
 */
@Injectable()
export class BankSearch {
  constructor(
    @Inject(BANK) private readonly bank: BankPort,
    private readonly repository: ReconciliationRepository,
    private readonly transfers: BankTransfersRepository,
  ) {}

  async search(from: Date, until: Date): Promise<BankSearchResult> {
    const result: BankSearchResult = { transfersByTrade: new Map(), orphans: [], orphanSubjects: [], searchedUntil: until };
    const settled: BankTransfer[] = [];
    for (let page = 1; ; page += 1) {
      const found = await this.bank.settledIncoming({ from, to: until, page, limit: PAGE_SIZE });
      settled.push(...found.transfers);
      if (!found.hasMore) break;
      if (page >= MAX_PAGES) {
        result.searchedUntil = found.transfers.at(-1)?.settledAt ?? from;
        break;
      }
    }
    const known = await this.transfers.known(settled.map((t) => t.transferId));
    const unknown = settled.filter((t) => t.direction === 'incoming' && !known.has(t.transferId));
    const references = [...new Set(unknown.flatMap((t) => (t.reference ? [normalizeBankReference(t.reference)] : [])))];
    const trades = await this.repository.tradesOfReferences(references);
    for (const transfer of unknown) {
      const tradeId = transfer.reference ? trades.get(normalizeBankReference(transfer.reference)) : undefined;
      if (tradeId) result.transfersByTrade.set(tradeId, [...(result.transfersByTrade.get(tradeId) ?? []), transfer.transferId]);
      else this.orphan(transfer, result);
    }
    // Orphans found earlier: taken by the books since (resolved), or still unknown.
    const earlier = (await this.repository.openOrphans('bank-transfer:')).filter((id) => !unknown.some((t) => t.transferId === id));
    const takenSince = await this.transfers.known(earlier);
    for (const transferId of earlier) {
      result.orphanSubjects.push(bankTransferSubject(transferId));
      if (takenSince.has(transferId)) continue;
      try {
        this.orphan(await this.bank.getTransfer(transferId), result);
      } catch (error) {
        if (!(error instanceof BankApiError) || error.status !== 404) throw error;
      }
    }
    return result;
  }

  private orphan(transfer: BankTransfer, result: BankSearchResult): void {
    const subject = bankTransferSubject(transfer.transferId);
    if (!result.orphanSubjects.includes(subject)) result.orphanSubjects.push(subject);
    result.orphans.push({
      kind: MISMATCH.bankIncomingUnknownToLedger,
      subject,
      tradeId: null,
      ledger: null,
      provider: {
        transferId: transfer.transferId,
        reference: transfer.reference,
        status: transfer.status,
        amountUsd: formatAmount(transfer.amountUsd, 'USD'),
      },
      detail: 'The bank settled money with a reference of no trade, and the books never took it',
    });
  }
}
