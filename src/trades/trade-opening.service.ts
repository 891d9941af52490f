import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { applyBps, cnyToUsd, formatAmount, formatRate } from '../common/money';
import { marketConfig, tradesConfig } from '../config';
import { InputParser } from '../market/market-input';
import { ListingCache } from '../market/listing-cache';
import { MarketRepository } from '../market/market.repository';
import type { PaymentMethod } from '../market/market.types';
import { requestStatus } from '../market/market.types';
import { effectiveRate, Price, withinGuard } from '../market/pricing';
import { OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { RatesService } from '../rates/rates.service';
import type { SelfTradeTarget } from '../users/account-events.repository';
import { SelfTradeWatch } from '../users/self-trade-watch';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';
import { AcceptRequestDto, TakeOfferDto, TradeView } from './dto/trades.dto';
import { presentTrade } from './trade.presenter';
import { partyActor, type Trade } from './trade.types';
import { assertWithinLimits } from './trade-limits';
import { TradesRepository } from './trades.repository';
import { TradeEvents } from './trade-events';
import type { PartyForTrade, PartyUsage } from './trade.types';
import { fundingDeadlineJobId } from '../queues/job-ids';
import { Transactions } from '../database/transactions';

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

/**
 * Opening a trade: a counterparty accepts a request, or a traveler takes an offer. Both lock their source row,
 * then share `create`'s checks (the rate guard, both parties' locks and details, the limits, and a shared
 * wallet answered last) and its one statement that opens the trade, reserves the amount and writes the
 * funding deadline's job.
 */
@Injectable()
export class TradeOpeningService {
  constructor(
    private readonly transactions: Transactions,
    private readonly trades: TradesRepository,
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
    const trade = await this.transactions.run(async (manager) => {
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
    // The listings show the smaller remainder before this answers (other processes hear it by notification).
    this.listings.clear();
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
    const trade = await this.transactions.run(async (manager) => {
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
    // The listings show the smaller remainder before this answers (other processes hear it by notification).
    this.listings.clear();
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
    // Recorded once the trade stands: a refused trade (limits, a shared wallet) tells nobody anything.
    await this.events.record(manager, 'trade.created', opened.trade);
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
}
