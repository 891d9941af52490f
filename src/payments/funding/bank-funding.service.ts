import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomInt } from 'node:crypto';
import { formatAmount } from '../../common/money';
import { tradesConfig } from '../../config';
import { LedgerService } from '../../ledger/ledger.service';
import { OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import type { Trade } from '../../trades/trade.types';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { TradeTimeline } from '../../trades/trade-timeline';
import { TradeTransitionsService } from '../../trades/trade-transitions.service';
import { BANK, BankPort, BankTransfer } from '../providers/bank/bank.port';
import { BankTransfersRepository, IncomingDisposition, IncomingRecord } from './bank-transfers.repository';
import { FundingPoll } from './funding-poll';
import { FundingRecord, FundingRepository } from './funding.repository';
import { bankReturnJobId, checkFundingJobId } from '../../queues/job-ids';
import { fundingPoll, keepTrying } from '../../queues/retry-policies';
import { NotYet } from './provider-steps';
import { Transactions } from '../../database/transactions';

// The bank's settled incoming transfers: read back a day on the first read, each read overlapping the last by a
// minute (a transfer's settlement time may be earlier than its commit), at most 20 pages of 500 a sweep.
const SETTLED_FIRST_LOOKBACK_MS = 24 * 60 * 60 * 1000;
const SETTLED_READ_OVERLAP_MS = 60 * 1000;
const SETTLED_PAGE = 500;
const SETTLED_MAX_PAGES = 20;

// Crockford's base32 without I, L, O, U: a reference a person can read out and type.
const REFERENCE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newBankReference(): string {
  let code = '';
  for (let i = 0; i < 10; i += 1) code += REFERENCE_ALPHABET[randomInt(REFERENCE_ALPHABET.length)];
  return `YB-${code}`;
}

/** References as senders type them: any case, with spaces. */
export function normalizeBankReference(reference: string): string {
  return reference.toUpperCase().replace(/\s+/g, '');
}

export const bankReturnRequestId = (transferId: string): string => `yb-return-${transferId}`;

/**
 * The USD into escrow by bank transfer. The trade gets a unique reference; the bank's callback (or the
 * poll) reports each settled incoming transfer, which is decided once under the trade's row lock: exactly
 * the amount or more funds the trade (the excess to suspense), anything else (too little, too late, an
 * unknown reference) goes to suspense. Suspense is sent back to the sender and leaves the books when the
 * bank confirms the return.
 */
@Injectable()
export class BankFundingService {
  private readonly logger = new Logger(BankFundingService.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly fundings: FundingRepository,
    private readonly poll: FundingPoll,
    private readonly incoming: BankTransfersRepository,
    private readonly trades: TradeSettlementRepository,
    private readonly timeline: TradeTimeline,
    private readonly tradesService: TradeTransitionsService,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxService,
    @Inject(BANK) private readonly bank: BankPort,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /** The trade's reference, made once; the poll starts with it. */
  async start(trade: Trade): Promise<{ created: boolean; body: Record<string, unknown> }> {
    let recorded = false;
    for (let attempt = 0; attempt < 5 && !recorded; attempt += 1) {
      recorded = await this.fundings.recordBankReference(trade.id, newBankReference());
    }
    if (!recorded) throw new Error('Could not draw a free bank reference');
    const funding = (await this.fundings.find(trade.id))!;
    await this.transactions.run((manager) =>
      this.outbox.write(manager, {
        queue: QUEUES.funding,
        jobName: JOBS.funding.checkFunding,
        jobId: checkFundingJobId(trade.id, 'poll'),
        payload: { tradeId: trade.id },
        delayMs: this.config.providerPollEveryMs,
        // Until the funding window closes (the job ends when the trade stops waiting); callbacks usually come first.
        retry: fundingPoll(this.config.fundingWindowBankMs, this.config),
      }),
    );
    return { created: true, body: this.view(funding.bankReference!, trade.amountUsd) };
  }

  view(reference: string, amountUsd: bigint): Record<string, unknown> {
    return { provider: 'bank_transfer', reference, amountUsd: formatAmount(amountUsd, 'USD') };
  }

  /**
   * The poll: every settled transfer with the trade's reference is decided; NotYet while the trade still waits.
   * `funding` is the trade's funding row as the check read it (the reference never changes).
   */
  async check(tradeId: string, funding: FundingRecord | null): Promise<'funded' | 'nothing'> {
    if (!funding?.bankReference) return 'nothing';
    for (const transfer of await this.bank.incomingByReference(funding.bankReference)) await this.receive(transfer);
    const trade = await this.trades.find(tradeId);
    if (trade?.state === 'awaiting_funding') throw new NotYet(`no settled transfer for ${funding.bankReference}`);
    return trade?.state === 'funded' ? 'funded' : 'nothing';
  }

  /** A callback named a transfer: ask the bank about it, and decide it. */
  async receiveById(transferId: string): Promise<IncomingDisposition | 'already' | 'nothing'> {
    const transfer = await this.bank.getTransfer(transferId);
    if (transfer.status === 'pending') throw new NotYet(`transfer ${transferId} is pending`);
    return this.receive(transfer);
  }

  /**
   * Money the bank settled that the books never took: its callback lost, and its reference one no trade polls for
   * (a typo, an ended trade). The bank's settled incoming transfers are read by settlement time from where the last
   * read stopped (a little before, for transfers committed late), and each one the books do not know is decided as
   * its callback would have had it (suspense, returned). Returns how many were taken.
   */
  async takeUnseenSettled(): Promise<number> {
    // Positions are the bank's own settlement times, so a clock of ours set apart from the bank's skips nothing;
    // ours only places the first read, a day back, and bounds the window generously ahead.
    const readUntil = await this.incoming.settledReadUntil();
    const from = new Date((readUntil?.getTime() ?? Date.now() - SETTLED_FIRST_LOOKBACK_MS) - SETTLED_READ_OVERLAP_MS);
    const to = new Date(Date.now() + SETTLED_FIRST_LOOKBACK_MS);
    let taken = 0;
    let reached: Date | null = null;
    for (let page = 1; page <= SETTLED_MAX_PAGES; page += 1) {
      const found = await this.bank.settledIncoming({ from, to, page, limit: SETTLED_PAGE });
      const known = await this.incoming.known(found.transfers.map((t) => t.transferId));
      for (const transfer of found.transfers) {
        if (!known.has(transfer.transferId)) {
          const outcome = await this.receive(transfer);
          if (outcome !== 'already' && outcome !== 'nothing') taken += 1;
        }
        if (transfer.settledAt && (!reached || transfer.settledAt > reached)) reached = transfer.settledAt;
      }
      // What is left past the last page is read by the next sweep, from the last transfer read.
      if (!found.hasMore) break;
    }
    if (reached) await this.incoming.markSettledReadUntil(reached);
    return taken;
  }

  /** Decides one settled incoming transfer, once, in one transaction with its ledger entries and jobs. */
  async receive(transfer: BankTransfer): Promise<IncomingDisposition | 'already' | 'nothing'> {
    if (transfer.direction !== 'incoming' || transfer.status !== 'settled') return 'nothing';
    if (await this.incoming.find(transfer.transferId)) return 'already';
    const reference = transfer.reference ? normalizeBankReference(transfer.reference) : null;
    const tradeId = reference ? await this.fundings.tradeOf('bank_reference', reference) : null;
    const decided = await this.transactions.run(async (manager) => {
      // The trade's row lock orders this against the other transfers for it and against its deadline.
      const trade = tradeId && (await this.trades.lockState(manager, tradeId)) ? await this.trades.find(tradeId, manager) : null;
      const amount = transfer.amountUsd;
      let disposition: IncomingDisposition;
      let fundedUsd = 0n;
      if (!trade) disposition = 'unknown_reference';
      else if (trade.state !== 'awaiting_funding') disposition = 'late';
      else if (amount < trade.amountUsd) disposition = 'underpaid';
      else {
        fundedUsd = trade.amountUsd;
        disposition = amount > trade.amountUsd ? 'overpaid' : 'funded';
      }
      const suspenseUsd = amount - fundedUsd;
      const fresh = await this.incoming.decide(manager, {
        transferId: transfer.transferId,
        tradeId: trade?.id ?? null,
        amountUsd: amount,
        fundedUsd,
        suspenseUsd,
        disposition,
      });
      if (!fresh) return 'already';
      if (trade && fundedUsd > 0n) {
        await this.fundings.recordStep(manager, trade.id, 'bank_transfer_id', transfer.transferId);
        await this.tradesService.confirmFunding(manager, trade.id, {
          provider: 'bank_transfer',
          reference,
          transferId: transfer.transferId,
        });
      }
      if (suspenseUsd > 0n) {
        await this.ledger.toSuspense(manager, trade?.id ?? null, transfer.transferId, suspenseUsd);
        await this.outbox.write(manager, {
          queue: QUEUES.settlement,
          jobName: JOBS.settlement.returnBankMoney,
          jobId: bankReturnJobId(transfer.transferId),
          payload: { transferId: transfer.transferId },
          retry: keepTrying(this.config.providerPollEveryMs),
        });
      }
      if (trade && disposition !== 'funded') {
        // The parties see what happened to money that did not (all) fund the trade.
        await this.timeline.providerEvent(manager, trade.id, {
          provider: 'bank_transfer',
          transferId: transfer.transferId,
          received: disposition,
          amountUsd: formatAmount(amount, 'USD'),
          returningUsd: formatAmount(suspenseUsd, 'USD'),
        });
      }
      return disposition;
    });
    // Funded now (a callback's job, the sweep, or the poll itself): the poll has nothing left to ask.
    if (tradeId && (decided === 'funded' || decided === 'overpaid')) await this.poll.dropFunded(tradeId);
    return decided;
  }

  /**
   * Sends a transfer's suspense part back to its sender (the request id makes a retry find the first return)
   * and books it out of suspense once the bank says it settled. A return the bank could not make (a closed
   * account) stays in suspense, logged for operators.
   */
  async returnSuspense(transferId: string): Promise<'returned' | 'failed' | 'bounced' | 'nothing'> {
    const record = await this.incoming.find(transferId);
    if (!record || record.suspenseUsd === 0n) return 'nothing';
    if (record.returnedAt) return record.returnId ? this.bouncedSuspense(record.transferId, record.returnId, record) : 'nothing';
    const returned = await this.bank.returnTransfer({
      transferId,
      amountUsd: record.suspenseUsd,
      requestId: bankReturnRequestId(transferId),
    });
    if (!record.returnId) await this.incoming.recordReturn(transferId, returned.transferId);
    if (returned.status === 'pending') throw new NotYet(`return ${returned.transferId} is pending`);
    if (returned.status === 'failed') {
      if (await this.incoming.markReturnFailed(transferId)) {
        this.logger.error({ transferId, returnId: returned.transferId }, 'The bank refused to return money held in suspense');
      }
      return 'failed';
    }
    await this.transactions.run(async (manager) => {
      // The trade's row before the transfer's and the ledger's, the one lock order (its timeline event needs it too).
      if (record.tradeId) await this.trades.lockState(manager, record.tradeId);
      if (!(await this.incoming.markReturned(manager, transferId))) return;
      await this.ledger.fromSuspense(manager, record.tradeId, transferId, record.suspenseUsd);
      // Settled and already sent back by the sender's bank: into suspense again, in the same transaction.
      if (returned.status === 'returned' && (await this.incoming.markBounced(manager, transferId))) {
        await this.ledger.suspenseBounced(manager, record.tradeId, transferId, record.suspenseUsd);
      }
      if (record.tradeId) {
        await this.timeline.providerEvent(manager, record.tradeId, {
          provider: 'bank_transfer',
          transferId,
          returnedUsd: formatAmount(record.suspenseUsd, 'USD'),
        });
      }
    });
    return 'returned';
  }

  /** A suspense return the sender's bank sent back: in suspense again, once, and logged for operators. */
  private async bouncedSuspense(transferId: string, returnId: string, record: IncomingRecord): Promise<'bounced' | 'nothing'> {
    if ((await this.bank.getTransfer(returnId)).status !== 'returned') return 'nothing';
    const bounced = await this.transactions.run(async (manager) => {
      if (record.tradeId) await this.trades.lockState(manager, record.tradeId);
      if (!(await this.incoming.markBounced(manager, transferId))) return false;
      await this.ledger.suspenseBounced(manager, record.tradeId, transferId, record.suspenseUsd);
      return true;
    });
    if (!bounced) return 'nothing';
    this.logger.error({ transferId, returnId }, 'Money returned from suspense came back: it is held in suspense for operators');
    return 'bounced';
  }
}
