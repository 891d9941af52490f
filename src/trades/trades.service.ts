import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { decodeCursor, Page, pageSize, toPage } from '../common/http/pagination';
import { applyBps, cnyToUsd, formatAmount, formatRate } from '../common/money';
import { tradesConfig, marketConfig } from '../config';
import { LedgerService } from '../ledger/ledger.service';
import { InputParser } from '../market/market-input';
import { MarketRepository } from '../market/market.repository';
import type { PaymentMethod } from '../market/market.types';
import { requestStatus } from '../market/market.types';
import { effectiveRate, Price, withinGuard } from '../market/pricing';
import { OutboxService } from '../outbox/outbox.service';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { JOBS, QUEUES } from '../queues/queue-names';
import { RatesService } from '../rates/rates.service';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';
import { isTradeCursor } from './trade-position';
import type { SelfTradeTarget } from '../users/account-events.repository';
import { SelfTradeWatch } from '../users/self-trade-watch';
import { AcceptRequestDto, ListTradesQuery, TakeOfferDto, TradeEventView, TradeView } from './dto/trades.dto';
import { presentEvent, presentTrade } from './trade.presenter';
import { assertTransition, sourcesOf, TradeState } from './trade.state-machine';
import type { Actor, Trade } from './trade.types';
import { ProviderHealth } from '../provider-health/provider-health.service';
import { HandleReveals } from './handle-reveals.service';
import type { EndingLocks } from './trades.repository';
import { DbTime, PartyForTrade, PartyUsage, TradesRepository } from './trades.repository';
import { assertWithinLimits } from './trade-limits';

export function fundingDeadlineJobId(tradeId: string): string {
  return `deadline-${tradeId}-funding`;
}

export function payoutDeadlineJobId(tradeId: string): string {
  return `deadline-${tradeId}-payout`;
}

interface TradeTerms {
  /** Read before the transaction: a stale one refuses the trade before anything is locked. */
  reference: bigint;
  source: { kind: 'request'; id: string } | { kind: 'offer'; id: string };
  travelerId: string;
  counterpartyId: string;
  makerId: string;
  callerId: string;
  amountCny: bigint;
  price: Price;
  paymentMethod: PaymentMethod;
}

/** Set by `create` once both parties' wallets are read: whether they are one wallet, whatever answer follows. */
interface SelfTradeProbe {
  sharedWallet: boolean;
}

/** An operator's split: two parts, each above zero, adding up to the trade's USD exactly (`split_mismatch`). */
export function assertSplitFits(split: { travelerUsd: bigint; counterpartyUsd: bigint }, amountUsd: bigint): void {
  if (split.travelerUsd <= 0n || split.counterpartyUsd <= 0n || split.travelerUsd + split.counterpartyUsd !== amountUsd) {
    throw new DomainError('split_mismatch', `The two parts must each be above zero and add up to ${formatAmount(amountUsd, 'USD')} USD`);
  }
}

/**
 * Trades: creation (accept a request, take an offer), reads, and every transition of a trade: the parties'
 * (cancel, confirm receipt, report the payout), the system's (funding, expiry, WeChat verification,
 * settlement) and an operator's dispute resolution. Every transition is one transaction: the conditional
 * update of the trade, its timeline event, the amount returned to the market, the volume given back, the
 * reputation counters and the outbox rows.
 */
@Injectable()
export class TradesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly trades: TradesRepository,
    private readonly market: MarketRepository,
    private readonly rates: RatesService,
    private readonly outbox: OutboxService,
    private readonly reveals: HandleReveals,
    private readonly encryption: FieldEncryption,
    private readonly ledger: LedgerService,
    private readonly health: ProviderHealth,
    private readonly selfTrades: SelfTradeWatch,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
    @Inject(marketConfig.KEY) private readonly marketSettings: ConfigType<typeof marketConfig>,
  ) {}

  /**
   * A counterparty accepts all that is open of a request, or a part no smaller than its minimum fill.
   * Locks the request row, so concurrent accepts queue on it and never take more than remains.
   */
  accept(caller: AuthUser, requestId: string, body: AcceptRequestDto): Promise<TradeView> {
    return this.watchingSelfTrades(caller, { type: 'request', id: requestId }, (probe) =>
      this.acceptRequest(caller, requestId, body, probe),
    );
  }

  private async acceptRequest(caller: AuthUser, requestId: string, body: AcceptRequestDto, probe: SelfTradeProbe): Promise<TradeView> {
    const input = new InputParser();
    const asked = body.amountCny === undefined ? undefined : input.amount(body.amountCny, 'amountCny');
    input.done();
    const reference = (await this.rates.requireFresh()).rate;
    const trade = await this.dataSource.transaction(async (manager) => {
      const request = await this.market.lockRequest(manager, requestId);
      if (!request) throw DomainError.notFound('Request');
      if (request.maker.suspended) throw new DomainError('maker_suspended', "The request's traveler is suspended");
      const status = requestStatus(request);
      if (status === 'filled') throw new DomainError('insufficient_amount', 'Nothing of this request remains open');
      if (status !== 'open') throw new DomainError('invalid_state_transition', `The request is ${status}`, { state: status });
      const amountCny = asked ?? request.remainingCny;
      if (amountCny > request.remainingCny) {
        throw new DomainError('insufficient_amount', `Only ${formatAmount(request.remainingCny, 'CNY')} CNY of this request remains open`);
      }
      if (amountCny < request.minFillCny && amountCny !== request.remainingCny) {
        throw new DomainError('below_min_fill', `Accept at least ${formatAmount(request.minFillCny, 'CNY')} CNY, or all that remains`);
      }
      return this.create(
        manager,
        {
          reference,
          source: { kind: 'request', id: request.id },
          travelerId: request.travelerId,
          counterpartyId: caller.id,
          makerId: request.travelerId,
          callerId: caller.id,
          amountCny,
          price: request.price,
          paymentMethod: request.paymentMethod,
        },
        probe,
      );
    });
    return presentTrade(trade);
  }

  /** A traveler takes an offer for an amount in its range. Locks the offer row, like `accept`. */
  take(caller: AuthUser, offerId: string, body: TakeOfferDto): Promise<TradeView> {
    return this.watchingSelfTrades(caller, { type: 'offer', id: offerId }, (probe) => this.takeOffer(caller, offerId, body, probe));
  }

  private async takeOffer(caller: AuthUser, offerId: string, body: TakeOfferDto, probe: SelfTradeProbe): Promise<TradeView> {
    const input = new InputParser();
    const amountCny = input.amount(body.amountCny, 'amountCny');
    input.done();
    const reference = (await this.rates.requireFresh()).rate;
    const trade = await this.dataSource.transaction(async (manager) => {
      const offer = await this.market.lockOffer(manager, offerId);
      if (!offer) throw DomainError.notFound('Offer');
      // 400s before 409s, as API.md orders errors.
      if (!offer.paymentMethods.includes(body.paymentMethod)) {
        throw DomainError.validation([
          { field: 'paymentMethod', code: 'not_allowed', message: `This offer accepts ${offer.paymentMethods.join(' or ')}` },
        ]);
      }
      if (amountCny < offer.minCny || amountCny > offer.maxCny) {
        throw new DomainError(
          'amount_out_of_range',
          `Take between ${formatAmount(offer.minCny, 'CNY')} and ${formatAmount(offer.maxCny, 'CNY')} CNY`,
        );
      }
      if (offer.maker.suspended) throw new DomainError('maker_suspended', "The offer's counterparty is suspended");
      if (offer.status === 'exhausted') throw new DomainError('insufficient_amount', 'Too little of this offer remains available');
      if (offer.status !== 'active')
        throw new DomainError('invalid_state_transition', `The offer is ${offer.status}`, { state: offer.status });
      if (amountCny > offer.availableCny) {
        throw new DomainError('insufficient_amount', `Only ${formatAmount(offer.availableCny, 'CNY')} CNY of this offer is available`);
      }
      return this.create(
        manager,
        {
          reference,
          source: { kind: 'offer', id: offer.id },
          travelerId: caller.id,
          counterpartyId: offer.counterpartyId,
          makerId: offer.counterpartyId,
          callerId: caller.id,
          amountCny,
          price: offer.price,
          paymentMethod: body.paymentMethod,
        },
        probe,
      );
    });
    return presentTrade(trade);
  }

  /** The checks and writes common to accept and take, inside their transaction, with the source row locked. */
  private async create(manager: EntityManager, terms: TradeTerms, probe: SelfTradeProbe): Promise<Trade> {
    const rate = effectiveRate(terms.price, terms.reference);
    if (!withinGuard(rate, terms.reference, this.marketSettings.rateGuardBps)) {
      throw new DomainError(
        'rate_out_of_bounds',
        `The rate ${formatRate(rate)} is too far from the reference rate ${formatRate(terms.reference)}`,
      );
    }
    const amountUsd = cnyToUsd(terms.amountCny, rate);
    if (amountUsd <= 0n)
      throw DomainError.validation([{ field: 'amountCny', code: 'too_small', message: 'amountCny is less than one US cent' }]);

    const parties = await this.trades.lockParties(manager, [terms.travelerId, terms.counterpartyId]);
    const traveler = parties.get(terms.travelerId)!;
    const counterparty = parties.get(terms.counterpartyId)!;
    const whose = (party: PartyForTrade) => (party.id === terms.callerId ? 'your' : "the maker's");
    // Known now, answered last: operators hear of a shared wallet whichever refusal the caller gets.
    const sharedWallet =
      traveler.wechat !== null &&
      counterparty.wechat !== null &&
      this.encryption.sameIndexedValue(traveler.wechat, counterparty.wechat, HANDLE_CONTEXT.wechatId);
    probe.sharedWallet = sharedWallet;
    if (parties.get(terms.callerId)!.suspended)
      throw new DomainError('account_suspended', 'The account is suspended: it may only act on its live trades');
    if (parties.get(terms.makerId)!.suspended) throw new DomainError('maker_suspended', 'The maker is suspended');
    if (!traveler.wechat)
      throw new DomainError('missing_payment_details', `The traveler has no WeChat wallet on file (${whose(traveler)} profile)`);
    if (!counterparty.wechat || !counterparty.paypal) {
      throw new DomainError(
        'missing_payment_details',
        `The counterparty needs a WeChat wallet and a payout account on file (${whose(counterparty)} profile)`,
      );
    }
    // The limits, read after the locks as the opening statement reads them, before anything is decided or
    // written: a trade they refuse runs the same statements whether or not the wallets match. A shared wallet
    // is answered last, once every other check has passed: `self_trade` then tells the caller nothing a trade
    // would not, and cannot be told apart from a limit by someone guessing at the maker's wallet.
    this.assertLimits(parties, await this.trades.usageOf(manager, [terms.callerId, terms.makerId]), terms, amountUsd);
    if (sharedWallet) throw new DomainError('self_trade', 'Both sides of this trade use the same WeChat wallet');
    const fundingWindowMs = terms.paymentMethod === 'paypal' ? this.config.fundingWindowPaypalMs : this.config.fundingWindowBankMs;
    const tradeId = randomUUID();
    const opened = await this.trades.openTrade(
      manager,
      {
        id: tradeId,
        requestId: terms.source.kind === 'request' ? terms.source.id : null,
        offerId: terms.source.kind === 'offer' ? terms.source.id : null,
        travelerId: terms.travelerId,
        counterpartyId: terms.counterpartyId,
        amountCny: terms.amountCny,
        amountUsd,
        rate,
        feeBps: this.config.feeBps,
        feeUsd: applyBps(amountUsd, this.config.feeBps),
        paymentMethod: terms.paymentMethod,
        travelerWechat: traveler.wechat,
        counterpartyWechat: counterparty.wechat,
        counterpartyPaypal: counterparty.paypal,
        fundingWindowMs,
      },
      {
        actor: { kind: terms.callerId === terms.travelerId ? 'traveler' : 'counterparty', id: terms.callerId },
        type: 'state_changed',
        fromState: null,
        toState: 'awaiting_funding',
        detail: {
          [terms.source.kind === 'request' ? 'requestId' : 'offerId']: terms.source.id,
          rate: formatRate(rate),
          amountUsd: formatAmount(amountUsd, 'USD'),
        },
      },
      this.outbox.rowFor(manager, {
        queue: QUEUES.deadlines,
        jobName: JOBS.deadlines.fundingDeadline,
        jobId: fundingDeadlineJobId(tradeId),
        payload: { tradeId },
        delayMs: fundingWindowMs,
      }),
    );
    // Checked again on what the opening statement itself read (the atomic check); throwing rolls back what it wrote.
    this.assertLimits(parties, opened.usage, terms, amountUsd);
    // The source row is locked and was checked above; a refusal here means a constraint this code does not know.
    if (!opened.reserved) throw new DomainError('insufficient_amount', 'The amount is no longer available');
    return opened.trade;
  }

  private assertLimits(parties: Map<string, PartyForTrade>, usage: Map<string, PartyUsage>, terms: TradeTerms, amountUsd: bigint): void {
    const limited = (id: string) => ({ id, tier: parties.get(id)!.tier, ...usage.get(id)! });
    assertWithinLimits(this.config.tiers, amountUsd, limited(terms.callerId), limited(terms.makerId));
  }

  /**
   * A trade refused between two parties sharing a wallet, whatever the refusal (`self_trade`, a limit, a
   * suspension), is recorded for operators (SelfTradeWatch) once its transaction rolled back, and the answer
   * does not wait for the record: neither its time nor its failure tells the caller their guess matched.
   */
  private async watchingSelfTrades<T>(caller: AuthUser, target: SelfTradeTarget, work: (probe: SelfTradeProbe) => Promise<T>): Promise<T> {
    const probe: SelfTradeProbe = { sharedWallet: false };
    try {
      return await work(probe);
    } finally {
      if (probe.sharedWallet) this.selfTrades.noteRefusal(caller.id, target);
    }
  }

  async list(caller: AuthUser, query: ListTradesQuery): Promise<Page<TradeView>> {
    const limit = pageSize(query);
    const after = query.cursor ? decodeCursor(query.cursor, isTradeCursor) : undefined;
    const rows = await this.trades.listForUser(
      caller.id,
      query.state ? [query.state] : undefined,
      limit + 1,
      after && { createdAt: after.t, id: after.id },
    );
    return toPage(
      rows,
      limit,
      // A list never shows a payment handle (API.md): only the trade itself does, to its counterparty.
      (trade) => presentTrade(trade),
      (trade) => ({ t: trade.position, id: trade.id }),
    );
  }

  async get(caller: AuthUser, id: string): Promise<TradeView> {
    return this.present(caller, await this.visible(caller, id));
  }

  async events(caller: AuthUser, id: string, query: { limit?: number; cursor?: string }): Promise<Page<TradeEventView>> {
    await this.visible(caller, id);
    const limit = pageSize(query);
    const after = query.cursor
      ? decodeCursor(
          query.cursor,
          (v): v is { e: string } => typeof (v as { e?: unknown })?.e === 'string' && /^\d{1,18}$/.test((v as { e: string }).e),
        )
      : undefined;
    const rows = await this.trades.events(id, limit + 1, after?.e);
    return toPage(rows, limit, presentEvent, (row) => ({ e: row.id }));
  }

  /** `awaiting_funding` → `cancelled`, by either party. The amount goes back to the market and the volume to the day. */
  async cancel(caller: AuthUser, id: string): Promise<TradeView> {
    const trade = await this.visible(caller, id);
    const actor: Actor = { kind: caller.id === trade.travelerId ? 'traveler' : 'counterparty', id: caller.id };
    const cancelled = await this.dataSource.transaction(async (manager) => {
      const locked = await this.trades.lockForEnding(manager, trade);
      const moved = await this.move(manager, locked.trade, 'cancelled', actor, { reason: 'cancelled_by_party' });
      await this.endUncompleted(manager, locked, caller.id);
      return moved;
    });
    return this.present(caller, cancelled);
  }

  /** The platform ends an unfunded trade (a self-trade found at funding): `awaiting_funding` → `cancelled`. */
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

  async cancelBySystem(manager: EntityManager, tradeId: string, reason: string): Promise<Trade> {
    const locked = await this.trades.lockForEnding(manager, await this.require(manager, tradeId));
    const moved = await this.move(manager, locked.trade, 'cancelled', { kind: 'system', id: null }, { reason });
    await this.endUncompleted(manager, locked, null);
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
    if (await this.health.isDown(trade.paymentMethod === 'paypal' ? 'paypal' : 'bank')) return false;
    const locked = await this.trades.lockForEnding(manager, trade);
    // Only once the window has passed by PostgreSQL's clock, read under the row lock: an extension committed since is kept.
    const moved = await this.trades.transition(manager, tradeId, ['awaiting_funding'], 'expired', {}, 'funding_by');
    if (!moved) return false;
    await this.trades.insertEvent(manager, tradeId, {
      actor: { kind: 'system', id: null },
      type: 'state_changed',
      fromState: 'awaiting_funding',
      toState: 'expired',
      detail: { reason: 'funding_window_passed' },
    });
    await this.endUncompleted(manager, locked, moved.travelerId);
    return true;
  }

  /**
   * The provider confirmed the USD in escrow (called by the funding flow): `awaiting_funding` → `funded`.
   * Puts the escrow hold in the ledger, starts the payout window and writes its deadline job.
   */
  async confirmFunding(manager: EntityManager, tradeId: string, detail: Record<string, unknown>): Promise<Trade> {
    const trade = await this.require(manager, tradeId);
    const moved = await this.move(manager, trade, 'funded', { kind: 'system', id: null }, detail, {
      // The deadline and its job's due time are one expression of one clock: now() + the window.
      funded_at: new DbTime(),
      payout_by: new DbTime(this.config.payoutWindowMs),
    });
    await this.ledger.holdEscrow(manager, moved);
    await this.outbox.write(manager, {
      queue: QUEUES.deadlines,
      jobName: JOBS.deadlines.payoutDeadline,
      jobId: payoutDeadlineJobId(tradeId),
      payload: { tradeId },
      delayMs: this.config.payoutWindowMs,
    });
    return moved;
  }

  /** The traveler says the RMB arrived: `funded` or `payout_sent` → `releasing`. */
  async confirmReceipt(caller: AuthUser, id: string): Promise<TradeView> {
    const trade = await this.visible(caller, id);
    if (caller.id !== trade.travelerId) throw new DomainError('forbidden', "Only the trade's traveler confirms receipt");
    const moved = await this.dataSource.transaction(async (manager) => {
      const released = await this.move(manager, trade, 'releasing', { kind: 'traveler', id: caller.id }, { reason: 'receipt_confirmed' });
      await this.queueSettlement(manager, id, 'releasing');
      return released;
    });
    return this.present(caller, moved);
  }

  /**
   * The payout window has passed with no RMB reported: `funded` → `refunding`, the counterparty's doing.
   * Run by the delayed job and by the sweeper; a second run does nothing.
   */
  async payoutWindowPassed(manager: EntityManager, tradeId: string): Promise<boolean> {
    const found = await this.trades.find(tradeId, manager);
    // The users before the trade: the counterparty's failed-trade counter changes with it.
    const trade = found?.state === 'funded' ? (await this.trades.lockWithParties(manager, found)).trade : found;
    if (!trade || trade.state !== 'funded' || !trade.payoutBy) return false;
    // The window re-checked by PostgreSQL's clock under the row lock: a WeChat outage's extension is not overridden.
    const moved = await this.trades.transition(manager, tradeId, ['funded'], 'refunding', {}, 'payout_by');
    if (!moved) return false;
    await this.trades.insertEvent(manager, tradeId, {
      actor: { kind: 'system', id: null },
      type: 'state_changed',
      fromState: 'funded',
      toState: 'refunding',
      detail: { reason: 'payout_window_passed' },
    });
    await this.trades.countFailedTrade(manager, trade.counterpartyId);
    await this.queueSettlement(manager, tradeId, 'refunding');
    return true;
  }

  /** The provider confirmed the payout (called by settlement): `releasing` → `completed`, the books settled, both counters up. */
  async completeRelease(manager: EntityManager, tradeId: string, detail: Record<string, unknown>): Promise<Trade> {
    // The users before the trade and its ledger entries: both parties' counters change at the end.
    const { trade } = await this.trades.lockWithParties(manager, await this.require(manager, tradeId));
    const moved = await this.move(manager, trade, 'completed', { kind: 'system', id: null }, detail);
    const times = await this.trades.timesOf(manager, tradeId);
    const fundedAt = times.fundedAt ?? times.createdAt;
    const minutes = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 60000));
    await this.trades.countCompletedTrade(
      manager,
      [
        { userId: moved.travelerId, minutes: minutes(times.createdAt, fundedAt) },
        { userId: moved.counterpartyId, minutes: minutes(fundedAt, times.rmbSentAt ?? new Date()) },
      ],
      this.config.tier1CompletedTrades,
    );
    // The ledger last, as in every transaction.
    await this.ledger.settleRelease(manager, moved);
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
    detail: Record<string, unknown>,
    how: 'voided' | 'paid_back' = 'voided',
  ): Promise<Trade> {
    const locked = await this.trades.lockForEnding(manager, await this.require(manager, tradeId));
    // After a refund the fee is zero (SPEC.md): the traveler gets everything back and nothing was released.
    const moved = await this.move(manager, locked.trade, 'refunded', { kind: 'system', id: null }, detail, { fee_usd: '0' });
    await this.endUncompleted(manager, locked, null);
    // The ledger last, as in every transaction.
    if (how === 'paid_back') await this.ledger.settlePaidBackRefund(manager, moved);
    else await this.ledger.settleRefund(manager, moved);
    return moved;
  }

  /**
   * The counterparty reports the WeChat transfer: `funded` → `payout_sent`. One transfer id settles one trade
   * (a unique index: 409 `wechat_transfer_used`). A verification job then asks WeChat about the transfer.
   */
  async reportPayout(caller: AuthUser, id: string, wechatTransferId: string): Promise<TradeView> {
    const trade = await this.visible(caller, id);
    if (caller.id !== trade.counterpartyId) throw new DomainError('forbidden', "Only the trade's counterparty reports the payout");
    try {
      const moved = await this.dataSource.transaction(async (manager) => {
        const reported = await this.move(
          manager,
          trade,
          'payout_sent',
          { kind: 'counterparty', id: caller.id },
          { wechatTransferId },
          {
            wechat_transfer_id: wechatTransferId,
            payout_reported_at: new DbTime(),
            verify_by: new DbTime(this.config.verifyTimeoutMs),
          },
        );
        // The verification job asks WeChat about the transfer until it verifies, fails, or the deadline passes.
        await this.outbox.write(manager, {
          queue: QUEUES.verification,
          jobName: JOBS.verification.verifyPayout,
          jobId: `verify-${trade.id}`,
          payload: { tradeId: trade.id },
          retry: { attempts: 10000, backoffMs: this.config.providerPollEveryMs, backoffType: 'fixed' },
        });
        return reported;
      });
      return this.present(caller, moved);
    } catch (error) {
      if ((error as { driverError?: { constraint?: string } }).driverError?.constraint === 'trades_wechat_transfer_key') {
        throw new DomainError('wechat_transfer_used', 'This WeChat transfer already settles another trade');
      }
      throw error;
    }
  }

  /** WeChat confirmed the reported transfer (the verification job): `payout_sent` → `releasing`. */
  async releaseVerified(manager: EntityManager, tradeId: string, detail: Record<string, unknown>): Promise<Trade> {
    const trade = await this.require(manager, tradeId);
    const moved = await this.move(manager, trade, 'releasing', { kind: 'system', id: null }, { verified: true, ...detail });
    await this.queueSettlement(manager, tradeId, 'releasing');
    return moved;
  }

  /**
   * The last search before a refund found the transfer the counterparty made and never reported: it becomes the
   * trade's transfer (one trade per transfer: the unique index) and the trade is released, not refunded.
   */
  async releaseFoundTransfer(manager: EntityManager, tradeId: string, wechatTransferId: string): Promise<Trade> {
    const trade = await this.require(manager, tradeId);
    const moved = await this.move(
      manager,
      trade,
      'releasing',
      { kind: 'system', id: null },
      { reason: 'transfer_found_before_refund', wechatTransferId },
      { wechat_transfer_id: wechatTransferId, payout_reported_at: new DbTime() },
    );
    await this.queueSettlement(manager, tradeId, 'releasing');
    return moved;
  }

  /**
   * The payout window of a funded trade has passed: the last search (a job of the payments side) looks for a
   * transfer made but never reported before anything is refunded. Run by the delayed job and by the sweeper.
   */
  async payoutWindowReached(manager: EntityManager, tradeId: string): Promise<boolean> {
    // Locked, and only if the window has passed by PostgreSQL's clock: an outage's extension is never overtaken.
    const trade = await this.trades.lockIfDue(manager, tradeId, 'funded', 'payout_by');
    if (!trade?.payoutBy) return false;
    await this.outbox.write(manager, {
      queue: QUEUES.verification,
      jobName: JOBS.verification.lastSearch,
      // Per deadline: one extended after a WeChat outage gets a search of its own (a finished job's id is not reused).
      jobId: `last-search-${tradeId}-${trade.payoutBy.getTime()}`,
      payload: { tradeId },
      retry: { attempts: 10000, backoffMs: this.config.providerPollEveryMs, backoffType: 'fixed' },
    });
    return true;
  }

  /**
   * A party (or the system, when verification fails) opens a dispute: `funded` or `payout_sent` → `disputed`.
   * Its deadlines stop, and a PayPal authorization is captured into escrow now (SPEC.md): a dispute may outlast
   * the honour period. The capture job does nothing for a trade funded otherwise.
   */
  async openDispute(manager: EntityManager, tradeId: string, actor: Actor, reason: string, disputeId: string): Promise<Trade> {
    const trade = await this.require(manager, tradeId);
    const moved = await this.move(
      manager,
      trade,
      'disputed',
      actor,
      { reason, disputeId },
      // The deadlines stop: a disputed trade shows none, and an operator decides when it moves.
      { dispute_id: disputeId, payout_by: null, verify_by: null },
    );
    await this.outbox.write(manager, {
      queue: QUEUES.settlement,
      jobName: JOBS.settlement.captureIntoEscrow,
      jobId: `dispute-capture-${tradeId}`,
      payload: { tradeId },
      retry: { attempts: 1000, backoffMs: this.config.providerPollEveryMs, backoffType: 'fixed' },
    });
    return moved;
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
    const { trade } = await this.trades.lockWithParties(manager, await this.require(manager, tradeId));
    const actor: Actor = { kind: 'operator', id: operatorId };
    if (decision.outcome !== 'split') {
      const moved = await this.move(manager, trade, decision.outcome === 'release' ? 'releasing' : 'refunding', actor, {
        outcome: decision.outcome,
      });
      // A release decides against the traveler's claim, a refund against the counterparty's; a split against neither.
      const [loser, winner] =
        decision.outcome === 'release' ? [trade.travelerId, trade.counterpartyId] : [trade.counterpartyId, trade.travelerId];
      await this.trades.countDispute(manager, loser, winner);
      await this.queueSettlement(manager, tradeId, decision.outcome === 'release' ? 'releasing' : 'refunding');
      return moved;
    }
    assertSplitFits(decision, trade.amountUsd);
    const split = await this.move(
      manager,
      trade,
      'splitting',
      actor,
      {
        outcome: 'split',
        travelerUsd: formatAmount(decision.travelerUsd, 'USD'),
        counterpartyUsd: formatAmount(decision.counterpartyUsd, 'USD'),
      },
      { split_traveler_usd: decision.travelerUsd.toString(), split_counterparty_usd: decision.counterpartyUsd.toString() },
    );
    await this.queueSettlement(manager, tradeId, 'splitting');
    return split;
  }

  /** Both legs of a split confirmed: `splitting` → `settled_split`; the fee is the same basis points of the counterparty's part. */
  async completeSplit(manager: EntityManager, tradeId: string, detail: Record<string, unknown>): Promise<Trade> {
    const trade = await this.require(manager, tradeId);
    const split = await this.trades.splitOf(manager, tradeId);
    if (!split) throw new Error(`Trade ${tradeId} has no split`);
    const feeUsd = applyBps(split.counterpartyUsd, trade.feeBps);
    const moved = await this.move(
      manager,
      trade,
      'settled_split',
      { kind: 'system', id: null },
      { ...detail, feeUsd: formatAmount(feeUsd, 'USD') },
      { fee_usd: feeUsd.toString() },
    );
    await this.ledger.settleSplit(manager, tradeId, split.counterpartyUsd, feeUsd);
    return moved;
  }

  /** A decided trade's money moves at the provider: the settlement job takes it from here. */
  private async queueSettlement(manager: EntityManager, tradeId: string, state: 'releasing' | 'refunding' | 'splitting'): Promise<void> {
    await this.outbox.write(manager, {
      queue: QUEUES.settlement,
      jobName: JOBS.settlement.settleTrade,
      jobId: `settle-${tradeId}-${state}`,
      payload: { tradeId },
      retry: { attempts: 1000, backoffMs: this.config.providerPollEveryMs, backoffType: 'fixed' },
    });
  }

  private async require(manager: EntityManager, tradeId: string): Promise<Trade> {
    const trade = await this.trades.find(tradeId, manager);
    if (!trade) throw DomainError.notFound('Trade');
    return trade;
  }

  /** One transition through the state machine: a conditional update, then its timeline event. */
  private async move(
    manager: EntityManager,
    trade: Trade,
    to: TradeState,
    actor: Actor,
    detail: Record<string, unknown>,
    set: Record<string, unknown> = {},
  ): Promise<Trade> {
    assertTransition(trade.state, to, actor.kind);
    const moved = await this.trades.transition(manager, trade.id, sourcesOf(to, actor.kind), to, set);
    if (!moved) {
      const current = await this.trades.find(trade.id, manager);
      throw new DomainError('invalid_state_transition', `The trade is ${current?.state}`, { state: current?.state });
    }
    await this.trades.insertEvent(manager, trade.id, { actor, type: 'state_changed', fromState: moved.previousState, toState: to, detail });
    return moved;
  }

  /**
   * What every end without completion does: the amount back to its request or offer, the volume back to its day,
   * the counter of who ended it. Only with `lockForEnding`'s locks, taken before the transition.
   */
  private async endUncompleted(manager: EntityManager, { trade }: EndingLocks, responsibleUserId: string | null): Promise<void> {
    const reservation = await this.trades.takeBackReservation(manager, trade.id);
    if (reservation?.requestId) await this.market.returnToRequest(manager, reservation.requestId, reservation.amountCny);
    if (reservation?.offerId) await this.market.returnToOffer(manager, reservation.offerId, reservation.amountCny);
    await this.trades.giveBackVolume(manager, [trade.travelerId, trade.counterpartyId], trade.volumeDay, trade.amountUsd);
    if (responsibleUserId) await this.trades.countFailedTrade(manager, responsibleUserId);
  }

  /** 404 for anyone but its parties and operators. */
  private async visible(caller: AuthUser, id: string): Promise<Trade> {
    const trade = await this.trades.find(id);
    if (!trade || (caller.role !== 'operator' && caller.id !== trade.travelerId && caller.id !== trade.counterpartyId))
      throw DomainError.notFound('Trade');
    return trade;
  }

  /** The traveler's WeChat id reaches only the trade's counterparty, and only while the RMB must be sent (recorded). */
  private present(caller: AuthUser, trade: Trade): Promise<TradeView> {
    return this.reveals.present(caller, trade);
  }
}
