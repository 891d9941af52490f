import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { DomainError } from '../common/errors';
import { applyBps, formatAmount } from '../common/money';
import { tradesConfig } from '../config';
import { LedgerService, ProviderFee } from '../ledger/ledger.service';
import { OutboxService, type OutboxMessage } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import type { SelfTradeTarget } from '../users/account-events.repository';
import { SelfTradeWatch } from '../users/self-trade-watch';
import { ProviderHealth } from '../provider-health/provider-health.service';
import { TradeMoves } from './trade-moves';
import type {
  FundingConfirmedDetail,
  RefundCompletedDetail,
  ReleaseCompletedDetail,
  SplitCompletedDetail,
  StateChangeReason,
} from './trade-timeline';
import { SYSTEM_ACTOR, type Actor, type Trade } from './trade.types';
import { TradeLocks, TradesRepository, TradeTimes } from './trades.repository';
import { disputeCaptureJobId, lastSearchJobId, payoutDeadlineJobId } from '../queues/job-ids';
import { keepTrying, keepVerifying } from '../queues/retry-policies';
import { ReputationCountersRepository } from '../users/reputation-counters.repository';
import { queuedWhenSet } from '../queues/sweep-horizon';

/** An operator's split: two parts, each above zero, adding up to the trade's USD exactly (`split_mismatch`). */
export function assertSplitFits(split: { travelerUsd: bigint; counterpartyUsd: bigint }, amountUsd: bigint): void {
  if (split.travelerUsd <= 0n || split.counterpartyUsd <= 0n || split.travelerUsd + split.counterpartyUsd !== amountUsd) {
    throw new DomainError('split_mismatch', `The two parts must each be above zero and add up to ${formatAmount(amountUsd, 'USD')} USD`);
  }
}

/**
 * The transitions other modules drive, each in the caller's transaction: funding confirmed or a self-trade
 * found at funding (payments' funding), WeChat's verification and the last search (payments' verification),
 * the end of a settlement (payments' settlement), a dispute opened or decided (disputes), and the deadlines
 * (the deadline jobs and their sweeper). Every one goes through `TradeMoves`: the conditional update of the
 * trade and its timeline event, with the amount returned to the market, the volume given back, the reputation
 * counters, the ledger and the outbox rows each transition needs.
 */
@Injectable()
export class TradeTransitionsService {
  constructor(
    private readonly trades: TradesRepository,
    private readonly counters: ReputationCountersRepository,
    private readonly moves: TradeMoves,
    private readonly outbox: OutboxService,
    private readonly ledger: LedgerService,
    private readonly health: ProviderHealth,
    private readonly selfTrades: SelfTradeWatch,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /**
   * The provider confirmed the USD in escrow (called by the funding flow): `awaiting_funding` → `funded`.
   * Puts the escrow hold in the ledger, starts the payout window and writes its deadline job if the window ends
   * within the horizon; a longer one's job is queued by the deadline sweeper as it nears (`queues/sweep-horizon.ts`).
   * `providerJobs` (the provider's own follow-up) are written with the transition's event, in the same statement.
   */
  async confirmFunding(
    manager: EntityManager,
    tradeId: string,
    detail: FundingConfirmedDetail,
    providerJobs: OutboxMessage[] = [],
  ): Promise<Trade> {
    const moved = await this.moves.moveUnread(
      manager,
      tradeId,
      'funded',
      SYSTEM_ACTOR,
      detail,
      { funded: { payoutWindowMs: this.config.payoutWindowMs } },
      [
        ...(queuedWhenSet(this.config.payoutWindowMs, this.config.deadlineSweepEveryMs)
          ? [
              {
                queue: QUEUES.deadlines,
                jobName: JOBS.deadlines.payoutDeadline,
                jobId: payoutDeadlineJobId(tradeId),
                payload: { tradeId },
                delayMs: this.config.payoutWindowMs,
              },
            ]
          : []),
        // The provider's own follow-up (PayPal's capture before its honour period ends), with the transition's.
        ...providerJobs,
      ],
    );
    await this.ledger.holdEscrow(manager, moved);
    return moved;
  }

  /**
   * The PayPal payer was the counterparty's payout account (found at funding): cancelled as a self-trade and
   * recorded as a refusal of the counterparty's, in the same transaction. The counterparty, not the traveler: the
   * payer is the traveler's own PayPal login, so a match means the counterparty's payout account was set to it,
   * the counterparty's doing (or one person on both sides). The trade's request or offer is the target.
   */
  async cancelAsSelfTrade(manager: EntityManager, tradeId: string): Promise<Trade> {
    const cancelled = await this.cancelBySystem(manager, tradeId, 'self_trade');
    const target: SelfTradeTarget = cancelled.requestId
      ? { type: 'request', id: cancelled.requestId }
      : { type: 'offer', id: cancelled.offerId! };
    await this.selfTrades.recordRefusalIn(manager, cancelled.counterpartyId, target);
    return cancelled;
  }

  /** The platform ends an unfunded trade (a self-trade found at funding): `awaiting_funding` → `cancelled`. */
  async cancelBySystem(manager: EntityManager, tradeId: string, reason: StateChangeReason): Promise<Trade> {
    const locked = await this.trades.lockForEnding(manager, await this.moves.require(manager, tradeId));
    const moved = await this.moves.move(manager, locked.trade, 'cancelled', SYSTEM_ACTOR, { reason });
    await this.moves.endUncompleted(manager, locked, null);
    return moved;
  }

  /**
   * The funding window has passed: `awaiting_funding` → `expired` (the traveler's doing). Run by the delayed
   * job and by the sweeper; a second run finds the trade already moved and does nothing.
   */
  async expireUnfunded(manager: EntityManager, tradeId: string): Promise<boolean> {
    const trade = await this.trades.find(tradeId, manager);
    if (!trade || trade.state !== 'awaiting_funding' || !trade.fundingBy) return false;
    // The traveler cannot fund while the provider is down: the window waits, and is extended when it recovers.
    if (await this.health.isDown(trade.paymentMethod === 'paypal' ? 'paypal' : 'bank', manager)) return false;
    const locked = await this.trades.lockForEnding(manager, trade);
    // Only once the window has passed by PostgreSQL's clock, read under the row lock: an extension committed since is kept.
    const moved = await this.moves.moveWhenDue(manager, trade, 'expired', SYSTEM_ACTOR, { reason: 'funding_window_passed' }, 'funding_by');
    if (!moved) return false;
    await this.moves.endUncompleted(manager, locked, moved.travelerId);
    return true;
  }

  /**
   * The payout window of a funded trade has passed: the last search (a job of the payments side) looks for a
   * transfer made but never reported before anything is refunded. Run by the delayed job and by the sweeper.
   * The trade does not move here: `payoutWindowPassed` moves it once the last search found nothing.
   */
  async payoutWindowReached(manager: EntityManager, tradeId: string): Promise<boolean> {
    // Locked, and only if the window has passed by PostgreSQL's clock: an outage's extension is never overtaken.
    const trade = await this.trades.lockIfDue(manager, tradeId, 'funded', 'payout_by');
    if (!trade?.payoutBy) return false;
    await this.outbox.write(manager, {
      queue: QUEUES.verification,
      jobName: JOBS.verification.lastSearch,
      // Per deadline: one extended after a WeChat outage gets a search of its own (a finished job's id is not reused).
      jobId: lastSearchJobId(tradeId, trade.payoutBy),
      payload: { tradeId },
      retry: keepVerifying(this.config.providerPollEveryMs),
    });
    return true;
  }

  /**
   * The payout window has passed with no RMB reported: `funded` → `refunding`, the counterparty's doing.
   * Run by the delayed job and by the sweeper; a second run does nothing.
   */
  async payoutWindowPassed(manager: EntityManager, tradeId: string): Promise<boolean> {
    const found = await this.trades.find(tradeId, manager);
    // The users before the trade: the counterparty's failed-trade counter changes with it.
    const trade = found?.state === 'funded' ? (await this.lockWithParties(manager, found.id)).trade : found;
    if (!trade || trade.state !== 'funded' || !trade.payoutBy) return false;
    // The window re-checked by PostgreSQL's clock under the row lock: a WeChat outage's extension is not overridden.
    const moved = await this.moves.moveWhenDue(manager, trade, 'refunding', SYSTEM_ACTOR, { reason: 'payout_window_passed' }, 'payout_by', [
      this.moves.settlementJob(tradeId, 'refunding'),
    ]);
    if (!moved) return false;
    await this.counters.countFailedTrade(manager, trade.counterpartyId);
    return true;
  }

  /** WeChat confirmed the reported transfer (the verification job): `payout_sent` → `releasing`. */
  async releaseVerified(manager: EntityManager, tradeId: string, detail: { wechatTransferId: string }): Promise<Trade> {
    return this.moves.moveUnread(manager, tradeId, 'releasing', SYSTEM_ACTOR, { verified: true, ...detail }, {}, [
      this.moves.settlementJob(tradeId, 'releasing'),
    ]);
  }

  /**
   * The last search before a refund found the transfer the counterparty made and never reported: it becomes the
   * trade's transfer (one trade per transfer: the unique index) and the trade is released, not refunded.
   */
  async releaseFoundTransfer(manager: EntityManager, tradeId: string, wechatTransferId: string): Promise<Trade> {
    return this.moves.moveUnread(
      manager,
      tradeId,
      'releasing',
      SYSTEM_ACTOR,
      { reason: 'transfer_found_before_refund', wechatTransferId },
      { payoutReported: { wechatTransferId } },
      [this.moves.settlementJob(tradeId, 'releasing')],
    );
  }

  /**
   * A party (or the system, when verification fails) opens a dispute: `funded` or `payout_sent` → `disputed`.
   * Its deadlines stop, and a PayPal authorization is captured into escrow now (SPEC.md): a dispute may outlast
   * the honour period. The capture job does nothing for a trade funded otherwise.
   */
  async openDispute(manager: EntityManager, tradeId: string, actor: Actor, reason: string, disputeId: string): Promise<Trade> {
    // The deadlines stop: a disputed trade shows none, and an operator decides when it moves.
    return this.moves.moveUnread(manager, tradeId, 'disputed', actor, { reason, disputeId }, { disputeOpened: { disputeId } }, [
      {
        queue: QUEUES.settlement,
        jobName: JOBS.settlement.captureIntoEscrow,
        jobId: disputeCaptureJobId(tradeId),
        payload: { tradeId },
        retry: keepTrying(this.config.providerPollEveryMs),
      },
    ]);
  }

  /**
   * An operator decides a dispute: release → `releasing`, refund → `refunding`, split → `splitting` with the
   * two parts, which must add up to the trade's USD and each be above zero (`split_mismatch`).
   */
  async resolveDispute(
    manager: EntityManager,
    tradeId: string,
    operatorId: string,
    decision: { outcome: 'release' | 'refund' } | { outcome: 'split'; travelerUsd: bigint; counterpartyUsd: bigint },
  ): Promise<Trade> {
    // The users before the trade: a release or a refund changes both parties' dispute counters.
    const { trade } = await this.lockWithParties(manager, tradeId);
    const actor: Actor = { kind: 'operator', id: operatorId };
    if (decision.outcome !== 'split') {
      const to = decision.outcome === 'release' ? 'releasing' : 'refunding';
      const moved = await this.moves.move(manager, trade, to, actor, { outcome: decision.outcome }, {}, [
        this.moves.settlementJob(tradeId, to),
      ]);
      // A release decides against the traveler's claim, a refund against the counterparty's; a split against neither.
      const [loser, winner] =
        decision.outcome === 'release' ? [trade.travelerId, trade.counterpartyId] : [trade.counterpartyId, trade.travelerId];
      await this.counters.countDispute(manager, loser, winner);
      return moved;
    }
    assertSplitFits(decision, trade.amountUsd);
    const split = await this.moves.move(
      manager,
      trade,
      'splitting',
      actor,
      {
        outcome: 'split',
        travelerUsd: formatAmount(decision.travelerUsd, 'USD'),
        counterpartyUsd: formatAmount(decision.counterpartyUsd, 'USD'),
      },
      { split: { travelerUsd: decision.travelerUsd, counterpartyUsd: decision.counterpartyUsd } },
      [this.moves.settlementJob(tradeId, 'splitting')],
    );
    return split;
  }

  /**
   * The provider confirmed the payout (called by settlement): `releasing` → `completed`, the books settled (with the
   * provider's fee on the payout, when given), both counters up.
   */
  async completeRelease(manager: EntityManager, tradeId: string, detail: ReleaseCompletedDetail, payoutFee?: ProviderFee): Promise<Trade> {
    // The users before the trade and its ledger entries: both parties' counters change at the end.
    const { trade, times } = await this.lockWithParties(manager, tradeId);
    const moved = await this.moves.move(manager, trade, 'completed', SYSTEM_ACTOR, detail);
    const fundedAt = times.fundedAt ?? times.createdAt;
    const minutes = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 60000));
    await this.counters.countCompletedTrade(
      manager,
      [
        { userId: moved.travelerId, minutes: minutes(times.createdAt, fundedAt) },
        { userId: moved.counterpartyId, minutes: minutes(fundedAt, times.rmbSentAt ?? new Date()) },
      ],
      this.config.tier1CompletedTrades,
    );
    // The ledger last, as in every transaction.
    await this.ledger.settleRelease(manager, moved, payoutFee);
    return moved;
  }

  /**
   * The provider confirmed the refund: `refunding` → `refunded`, the amount back to the market. An
   * authorization hold is voided; money that really arrived (`paid_back`, a bank return) posts to the
   * traveler's refund payable, cleared.
   */
  async completeRefund(
    manager: EntityManager,
    tradeId: string,
    detail: RefundCompletedDetail,
    how: 'voided' | 'paid_back' = 'voided',
  ): Promise<Trade> {
    const locked = await this.trades.lockForEnding(manager, await this.moves.require(manager, tradeId));
    // After a refund the fee is zero (SPEC.md): the traveler gets everything back and nothing was released.
    const moved = await this.moves.move(manager, locked.trade, 'refunded', SYSTEM_ACTOR, detail, { feeUsd: 0n });
    await this.moves.endUncompleted(manager, locked, null);
    // The ledger last, as in every transaction.
    if (how === 'paid_back') await this.ledger.settlePaidBackRefund(manager, moved);
    else await this.ledger.settleRefund(manager, moved);
    return moved;
  }

  /** Both legs of a split confirmed: `splitting` → `settled_split`; the fee is the same basis points of the counterparty's part. */
  async completeSplit(manager: EntityManager, tradeId: string, detail: SplitCompletedDetail, payoutFee?: ProviderFee): Promise<Trade> {
    const trade = await this.moves.require(manager, tradeId);
    const split = await this.trades.splitOf(manager, tradeId);
    if (!split) throw new Error(`Trade ${tradeId} has no split`);
    const feeUsd = applyBps(split.counterpartyUsd, trade.feeBps);
    const moved = await this.moves.move(
      manager,
      trade,
      'settled_split',
      SYSTEM_ACTOR,
      { ...detail, feeUsd: formatAmount(feeUsd, 'USD') },
      { feeUsd },
    );
    await this.ledger.settleSplit(manager, tradeId, split.counterpartyUsd, feeUsd, payoutFee);
    return moved;
  }

  /** The parties' rows, then the trade's (`TradesRepository.lockWithParties`); a trade that does not exist is not found. */
  private async lockWithParties(manager: EntityManager, tradeId: string): Promise<TradeLocks & { times: TradeTimes }> {
    const locked = await this.trades.lockWithParties(manager, tradeId);
    if (!locked) throw DomainError.notFound('Trade');
    return locked;
  }
}
