import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { applyBps, cnyToUsd, formatAmount, formatRate } from '../common/money';
import { marketConfig, tradesConfig } from '../config';
import { claimTakenOver, runningClaim } from '../idempotency/idempotency.fence';
import { InputParser } from '../market/market-input';
import { ListingCache } from '../market/listing-cache';
import { MarketRepository } from '../market/market.repository';
import { effectiveRate, withinGuard } from '../market/pricing';
import { OutboxMessage, OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { RatesService } from '../rates/rates.service';
import type { SelfTradeTarget } from '../users/account-events.repository';
import { SelfTradeWatch } from '../users/self-trade-watch';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';
import { AcceptRequestDto, TakeOfferDto, TradeView } from './dto/trades.dto';
import { presentTrade } from './trade.presenter';
import { partyActor, type HandleSnapshot, type NewTrade, type Trade, type TradeEvent } from './trade.types';
import { assertWithinLimits } from './trade-limits';
import { TradesRepository } from './trades.repository';
import { TradeEvents } from './trade-events';
import type { PartyForTrade, PartyUsage } from './trade.types';
import { PartyAsDecided, TradeOpeningRepository } from './trade-opening.repository';
import { offerTerms, requestTerms, TradeTerms } from './trade-opening-terms';
import { fundingDeadlineJobId } from '../queues/job-ids';
import { queuedWhenSet } from '../queues/sweep-horizon';
import { Transactions } from '../database/transactions';

/** Set by `create` once both parties' wallets are read: whether they are one wallet, whatever answer follows. */
interface SelfTradeProbe {
  sharedWallet: boolean;
}

/** A trade decided: what opening it writes. */
interface Decided {
  trade: NewTrade & { id: string };
  timeline: Omit<TradeEvent, 'at'>;
  /** Null when the funding deadline lies past the horizon: the deadline sweeper queues its job when it nears. */
  deadline: OutboxMessage | null;
}

/**
 * Opening a trade: a counterparty accepts a request, or a traveler takes an offer. Each is first tried at once
 * (`openAtOnce`): decided on reads without locks, then one statement in autocommit takes the source's and the
 * parties' locks, finds all the decision rested on unchanged and writes the trade, so the race guard's lock is
 * held for no round trip. A decision that would refuse, or that the statement finds changed, is made again the
 * careful way: one transaction locks the source row, then `create` runs the same checks (the rate guard, both
 * parties' locks and details, the limits, and a shared wallet answered last) on what it read under the locks, and
 * opens the trade in one statement. Every refusal is thus the careful path's, as it always was.
 */
@Injectable()
export class TradeOpeningService {
  constructor(
    private readonly transactions: Transactions,
    private readonly trades: TradesRepository,
    private readonly opening: TradeOpeningRepository,
    private readonly market: MarketRepository,
    private readonly rates: RatesService,
    private readonly outbox: OutboxService,
    private readonly encryption: FieldEncryption,
    private readonly selfTrades: SelfTradeWatch,
    private readonly events: TradeEvents,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
    @Inject(marketConfig.KEY) private readonly marketSettings: ConfigType<typeof marketConfig>,
    private readonly listings: ListingCache,
  ) {}

  /**
   * A counterparty accepts all that is open of a request, or a part no smaller than its minimum fill. The request
   * row's lock queues concurrent accepts, so they never take more than remains.
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
    const trade =
      (await this.openAtOnce(async () => requestTerms(await this.market.findRequest(requestId), asked, caller.id, reference))) ??
      (await this.transactions.run(async (manager) =>
        this.create(manager, requestTerms(await this.market.lockRequest(manager, requestId), asked, caller.id, reference), probe),
      ));
    // The listings show the smaller remainder before this answers (other processes hear it by notification).
    this.listings.clear();
    return presentTrade(trade);
  }

  /** A traveler takes an offer for an amount in its range. The offer row's lock queues takes, like `accept`. */
  take(caller: AuthUser, offerId: string, body: TakeOfferDto): Promise<TradeView> {
    return this.watchingSelfTrades(caller, { type: 'offer', id: offerId }, (probe) => this.takeOffer(caller, offerId, body, probe));
  }

  private async takeOffer(caller: AuthUser, offerId: string, body: TakeOfferDto, probe: SelfTradeProbe): Promise<TradeView> {
    const input = new InputParser();
    const amountCny = input.amount(body.amountCny, 'amountCny');
    input.done();
    const reference = (await this.rates.requireFresh()).rate;
    const trade =
      (await this.openAtOnce(async () =>
        offerTerms(await this.market.findOffer(offerId), body.paymentMethod, amountCny, caller.id, reference),
      )) ??
      (await this.transactions.run(async (manager) =>
        this.create(
          manager,
          offerTerms(await this.market.lockOffer(manager, offerId), body.paymentMethod, amountCny, caller.id, reference),
          probe,
        ),
      ));
    // The listings show the smaller remainder before this answers (other processes hear it by notification).
    this.listings.clear();
    return presentTrade(trade);
  }

  /**
   * The trade opened in one round trip, or null when it must be decided again under the locks: `read` (the source,
   * without a lock) or the checks refused it, or the statement found the source or a party changed since. A
   * refusal here is never answered: the careful path answers it, from what it reads under its locks, as API.md
   * orders refusals, and it alone tells operators of a shared wallet. Nothing is written unless the trade opens.
   */
  private async openAtOnce(read: () => Promise<TradeTerms>): Promise<Trade | null> {
    let terms: TradeTerms;
    let decided: Decided;
    let parties: Map<string, PartyForTrade>;
    let amountUsd: bigint;
    try {
      terms = await read();
      const priced = this.price(terms);
      amountUsd = priced.amountUsd;
      const now = await this.opening.partiesNow([terms.travelerId, terms.counterpartyId]);
      parties = now.parties;
      if (parties.size !== 2) return null;
      const { traveler, counterparty } = this.checkParties(terms, parties, now.usage, amountUsd, { sharedWallet: false });
      decided = this.decide(terms, priced.rate, amountUsd, traveler, counterparty);
    } catch (error) {
      if (error instanceof DomainError) return null;
      throw error;
    }
    const asDecided = (id: string): PartyAsDecided => {
      const party = parties.get(id)!;
      const limits = this.config.tiers[party.tier];
      return { party, maxLiveTrades: limits.openTrades - 1, maxVolumeTodayCents: limits.dailyUsdCents - amountUsd };
    };
    const claim = runningClaim.getStore();
    const trade = decided.trade;
    const deadline = decided.deadline && this.outbox.rowForStatement(decided.deadline);
    // Its times are the statement's, set from the row it stores; these stand in for them until then.
    const created = this.events.prepareCreated({
      ...trade,
      state: 'awaiting_funding',
      travelerWechat: null,
      fundingBy: new Date(0),
      payoutBy: null,
      verifyBy: null,
      disputeId: null,
      settlementFailing: false,
      splitCounterpartyUsd: null,
      volumeDay: '',
      createdAt: new Date(0),
      updatedAt: new Date(0),
    });
    const opened = await this.opening.openAtOnce(
      trade,
      terms.decidedOn,
      [asDecided(trade.travelerId), asDecided(trade.counterpartyId)],
      claim?.running ? { ownerId: claim.ownerId, key: claim.key, claimId: claim.claimId } : null,
      { timeline: decided.timeline, deadline, created },
    );
    if (opened.outcome === 'claim_lost') throw claimTakenOver();
    if (opened.outcome !== 'opened') return null;
    const written = [{ row: created.fanOut, id: opened.fanOutOutboxId }];
    if (deadline && opened.deadlineOutboxId) written.unshift({ row: deadline, id: opened.deadlineOutboxId });
    this.outbox.publishWritten(written, Date.now());
    return opened.trade;
  }

  /** The checks and writes common to accept and take, inside their transaction, with the source row locked. */
  private async create(manager: EntityManager, terms: TradeTerms, probe: SelfTradeProbe): Promise<Trade> {
    const { rate, amountUsd } = this.price(terms);
    const parties = await this.trades.lockParties(manager, [terms.travelerId, terms.counterpartyId]);
    // The limits, read after the locks as the opening statement reads them, before anything is decided or
    // written: a trade they refuse runs the same statements whether or not the wallets match.
    const usage = await this.trades.usageOf(manager, [terms.callerId, terms.makerId]);
    const { traveler, counterparty } = this.checkParties(terms, parties, usage, amountUsd, probe);
    const decided = this.decide(terms, rate, amountUsd, traveler, counterparty);
    const deadline = decided.deadline && this.outbox.rowFor(manager, decided.deadline);
    const opened = await this.trades.openTrade(manager, decided.trade, decided.timeline, deadline);
    // Checked again on what the opening statement itself read (the atomic check); throwing rolls back what it wrote.
    this.assertLimits(parties, opened.usage, terms, amountUsd);
    // The source row is locked and was checked above; a refusal here means a constraint this code does not know.
    if (!opened.reserved) throw new DomainError('insufficient_amount', 'The amount is no longer available');
    // Recorded once the trade stands: a refused trade (limits, a shared wallet) tells nobody anything.
    await this.events.record(manager, 'trade.created', opened.trade);
    return opened.trade;
  }

  /** The rate guard on the effective rate, and the USD the amount comes to. */
  private price(terms: TradeTerms): { rate: bigint; amountUsd: bigint } {
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
    return { rate, amountUsd };
  }

  /**
   * Both parties' state, their limits and a shared wallet, in that order of refusal. Sets `probe.sharedWallet`
   * first: operators hear of a shared wallet whichever refusal the caller gets.
   */
  private checkParties(
    terms: TradeTerms,
    parties: Map<string, PartyForTrade>,
    usage: Map<string, PartyUsage>,
    amountUsd: bigint,
    probe: SelfTradeProbe,
  ): {
    traveler: PartyForTrade & { wechat: HandleSnapshot };
    counterparty: PartyForTrade & { wechat: HandleSnapshot; paypal: HandleSnapshot };
  } {
    const traveler = parties.get(terms.travelerId)!;
    const counterparty = parties.get(terms.counterpartyId)!;
    const whose = (party: PartyForTrade) => (party.id === terms.callerId ? 'your' : "the maker's");
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
    // A shared wallet is answered last, once every other check has passed: `self_trade` then tells the caller
    // nothing a trade would not, and cannot be told apart from a limit by someone guessing at the maker's wallet.
    this.assertLimits(parties, usage, terms, amountUsd);
    if (sharedWallet) throw new DomainError('self_trade', 'Both sides of this trade use the same WeChat wallet');
    return {
      traveler: { ...traveler, wechat: traveler.wechat },
      counterparty: { ...counterparty, wechat: counterparty.wechat, paypal: counterparty.paypal },
    };
  }

  /**
   * The trade a decision opens: its row, its timeline's first event and its funding deadline's job, if the deadline
   * falls within the horizon (`queues/sweep-horizon.ts`); a later one is queued by the deadline sweeper as it nears.
   */
  private decide(
    terms: TradeTerms,
    rate: bigint,
    amountUsd: bigint,
    traveler: { wechat: HandleSnapshot },
    counterparty: { wechat: HandleSnapshot; paypal: HandleSnapshot },
  ): Decided {
    const fundingWindowMs = terms.paymentMethod === 'paypal' ? this.config.fundingWindowPaypalMs : this.config.fundingWindowBankMs;
    const tradeId = randomUUID();
    return {
      trade: {
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
      timeline: {
        actor: partyActor(terms, terms.callerId),
        type: 'state_changed',
        fromState: null,
        toState: 'awaiting_funding',
        detail: {
          [terms.source.kind === 'request' ? 'requestId' : 'offerId']: terms.source.id,
          rate: formatRate(rate),
          amountUsd: formatAmount(amountUsd, 'USD'),
        },
      },
      deadline: queuedWhenSet(fundingWindowMs, this.config.deadlineSweepEveryMs)
        ? {
            queue: QUEUES.deadlines,
            jobName: JOBS.deadlines.fundingDeadline,
            jobId: fundingDeadlineJobId(tradeId),
            payload: { tradeId },
            delayMs: fundingWindowMs,
          }
        : null,
    };
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
}
