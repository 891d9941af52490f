import { Inject, Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { FieldEncryption, normalizeWechatId } from '../../common/crypto/field-encryption';
import { formatAmount } from '../../common/money';
import { DisputesService } from '../../disputes/disputes.service';
import { ProviderHealth } from '../../provider-health/provider-health.service';
import { RmbLeg, TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { TradeTransitionsService } from '../../trades/trade-transitions.service';
import { HANDLE_CONTEXT } from '../../common/crypto/handle-context';
import { NotYet } from '../funding/provider-steps';
import { WalletTransfer, WECHAT, WechatPort } from '../providers/wechat/wechat.port';
import { Transactions } from '../../database/transactions';

type Verdict = { ok: true } | { ok: false; finding: string };

/**
 * The RMB leg. A reported WeChat transfer is verified with WeChat: `SUCCESS`, exactly the trade's CNY, from the
 * counterparty's snapshotted wallet to the traveler's → `releasing`; anything else, or nothing by the verify
 * deadline → `disputed` (the system's dispute, its finding without wallet ids, since both parties read it).
 * Before a funded trade is refunded at its payout deadline, a last search looks for a matching transfer the
 * counterparty made and never reported. WeChat failing makes both wait (retried), never decide; a verification
 * also waits while WeChat still counts as down (its outage's deadlines not yet extended).
 */
@Injectable()
export class PayoutVerificationService {
  private readonly logger = new Logger(PayoutVerificationService.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly trades: TradeSettlementRepository,
    private readonly tradesService: TradeTransitionsService,
    private readonly disputes: DisputesService,
    private readonly encryption: FieldEncryption,
    private readonly health: ProviderHealth,
    @Inject(WECHAT) private readonly wechat: WechatPort,
  ) {}

  async verify(tradeId: string): Promise<'releasing' | 'disputed' | 'nothing'> {
    // The trade's state and its RMB leg in one read. The transfer's id and the CNY never change once reported; the
    // verify deadline, which an outage's end may move meanwhile, is read by PostgreSQL's clock when it decides.
    const leg = await this.trades.rmbLegOf(tradeId);
    if (!leg?.wechatTransferId || leg.state !== 'payout_sent') return 'nothing';
    const transfer = await this.wechat.getTransfer(leg.wechatTransferId);
    let verdict: Verdict;
    const byDeadline = !transfer || transfer.state === 'PROCESSING';
    // The verify deadline by PostgreSQL's clock, which set it: never decided early by a worker's clock.
    const beforeDeadline = async (manager?: EntityManager) =>
      ((await this.trades.untilDeadline(tradeId, 'payout_sent', 'verify_by', manager)) ?? 0) > 0;
    if (byDeadline) {
      if (await beforeDeadline()) throw new NotYet(`transfer ${leg.wechatTransferId} not settled at WeChat`);
      verdict = {
        ok: false,
        finding: transfer
          ? 'The reported WeChat transfer was still processing at the verify deadline.'
          : 'WeChat has no transfer with the reported id.',
      };
    } else {
      verdict = this.judge(leg, transfer);
    }
    return this.transactions.run(async (manager) => {
      // Under the trade's row lock: a notification's job and the poll may both get here; the state decides once.
      if ((await this.trades.lockState(manager, tradeId)) !== 'payout_sent') return 'nothing';
      // An outage that ended meanwhile may have moved the deadline: read it again under the lock.
      if (byDeadline && (await beforeDeadline(manager))) throw new NotYet('the verify deadline was extended');
      // WeChat counts as down until the outage's deadlines are extended, maybe by another caller's recovery still
      // running: no verdict before that, or a release would overtake the extension and the timeline never tell it.
      if (await this.health.isDown('wechat', manager)) throw new NotYet('WeChat is recovering from an outage');
      if (verdict.ok) {
        await this.tradesService.releaseVerified(manager, tradeId, { wechatTransferId: leg.wechatTransferId! });
        return 'releasing';
      }
      await this.disputes.openBySystem(manager, tradeId, verdict.finding);
      return 'disputed';
    });
  }

  /**
   * The payout deadline of a funded trade: a transfer from the counterparty's wallet to the traveler's, for
   * the trade's CNY, made since funding and claimed by no other trade, releases it; one such transfer still
   * PROCESSING at WeChat makes the search ask again later (it ends SUCCESS or FAIL); otherwise it is refunded.
   */
  async lastSearch(tradeId: string): Promise<'releasing' | 'refunding' | 'nothing'> {
    const leg = await this.trades.rmbLegOf(tradeId);
    if (!leg || leg.state !== 'funded') return 'nothing';
    const from = this.encryption.decrypt(leg.counterparty, HANDLE_CONTEXT.wechatId);
    const to = this.encryption.decrypt(leg.traveler, HANDLE_CONTEXT.wechatId);
    const since = leg.fundedAt ?? leg.createdAt;
    const found = await this.wechat.searchTransfers(from, to, since);
    // A WeChat outage that just ended may have moved the payout deadline (by PostgreSQL's clock): its job comes back then.
    const remainingMs = await this.trades.untilDeadline(tradeId, 'funded', 'payout_by');
    if (remainingMs === null || remainingMs > 0) return 'nothing';
    const candidates = found.filter((t) => t.state === 'SUCCESS' && this.judge(leg, t).ok);
    // Sent but not yet settled at WeChat (a payment made at the deadline): refunding now could cost the counterparty the RMB.
    const processing = found.filter((t) => t.state === 'PROCESSING' && this.judge(leg, { ...t, state: 'SUCCESS' }).ok);
    for (const candidate of candidates) {
      if (await this.trades.tradeOfWechatTransfer(candidate.transferId)) continue;
      try {
        const outcome = await this.transactions.run(async (manager) => {
          if ((await this.trades.lockState(manager, tradeId)) !== 'funded') return 'nothing' as const;
          await this.tradesService.releaseFoundTransfer(manager, tradeId, candidate.transferId);
          return 'releasing' as const;
        });
        this.logger.log({ tradeId }, 'A transfer made but not reported was found before the refund: released');
        return outcome;
      } catch (error) {
        // Another trade claimed this transfer meanwhile (the unique index): try the next one.
        if ((error as { driverError?: { constraint?: string } }).driverError?.constraint !== 'trades_wechat_transfer_key') throw error;
      }
    }
    for (const pending of processing) {
      if (!(await this.trades.tradeOfWechatTransfer(pending.transferId)))
        throw new NotYet(`transfer ${pending.transferId} still processing`);
    }
    if (await this.health.isDown('wechat')) throw new NotYet('WeChat is recovering from an outage');
    const refunded = await this.transactions.run((manager) => this.tradesService.payoutWindowPassed(manager, tradeId));
    return refunded ? 'refunding' : 'nothing';
  }

  /** The transfer against the trade: state, exact CNY, and both wallets by blind index (never compared in clear). */
  private judge(leg: RmbLeg, transfer: WalletTransfer): Verdict {
    if (transfer.state !== 'SUCCESS') return { ok: false, finding: `The reported WeChat transfer is ${transfer.state}.` };
    // A transfer made before the USD was in escrow belongs to something else (an earlier trade, a gift).
    if (leg.fundedAt && transfer.createdAt.getTime() < leg.fundedAt.getTime()) {
      return { ok: false, finding: 'The reported WeChat transfer was made before this trade was funded.' };
    }
    if (transfer.amountFen !== leg.amountCny) {
      return {
        ok: false,
        finding: `The reported WeChat transfer is for ${formatAmount(transfer.amountFen, 'CNY')} CNY; the trade is for ${formatAmount(leg.amountCny, 'CNY')} CNY.`,
      };
    }
    const wallet = (wechatId: string, index: string) =>
      this.encryption.matchesBlindIndex(normalizeWechatId(wechatId), HANDLE_CONTEXT.wechatId, index);
    if (!wallet(transfer.fromWechatId, leg.counterparty.index)) {
      return { ok: false, finding: "The reported WeChat transfer was not sent from the counterparty's wallet on the trade." };
    }
    if (!wallet(transfer.toWechatId, leg.traveler.index)) {
      return { ok: false, finding: "The reported WeChat transfer was not sent to the traveler's wallet on the trade." };
    }
    return { ok: true };
  }
}
