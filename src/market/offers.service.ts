import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { Cursors } from '../common/http/cursors';
import { Page } from '../common/http/pagination';
import { RatesService } from '../rates/rates.service';
import { UsersRepository } from '../users/users.repository';
import { CreateOfferDto, ListOffersQuery, OfferView } from './dto/market.dto';
import { planListing } from './listing-order';
import { listingPage, openListing } from './listing';
import { ListingCache } from './listing-cache';
import { InputParser } from './market-input';
import { presentOffer } from './market.presenter';
import { MarketRepository } from './market.repository';
import { OFFER_STATUSES, OfferStatus } from './market.types';
import { lockMakerForPosting } from './maker-check';
import { PriceGuard } from './price-guard';
import { Transactions } from '../database/transactions';

/** Which states each maker action leaves from. */
const OFFER_ACTIONS: Record<'pause' | 'resume' | 'close', { from: OfferStatus[]; to: OfferStatus }> = {
  pause: { from: ['active', 'exhausted'], to: 'paused' },
  resume: { from: ['paused'], to: 'active' },
  close: { from: ['active', 'paused', 'exhausted'], to: 'closed' },
};

@Injectable()
export class OffersService {
  constructor(
    private readonly transactions: Transactions,
    private readonly market: MarketRepository,
    private readonly users: UsersRepository,
    private readonly rates: RatesService,
    private readonly priceGuard: PriceGuard,
    private readonly cursors: Cursors,
    private readonly listings: ListingCache,
  ) {}

  /** Posts a counterparty's offer (`active`), its WeChat wallet and payout account checked under a lock of its row. */
  async create(caller: AuthUser, body: CreateOfferDto): Promise<OfferView> {
    const input = new InputParser();
    const minCny = input.amount(body.minCny, 'minCny');
    const maxCny = input.amount(body.maxCny, 'maxCny');
    const totalCny = input.amount(body.totalCny, 'totalCny');
    const price = input.price(body.price);
    if (minCny > 0n && maxCny > 0n && maxCny < minCny) input.fail('maxCny', 'too_small', 'maxCny cannot be less than minCny');
    if (minCny > 0n && totalCny > 0n && totalCny < minCny) input.fail('totalCny', 'too_small', 'totalCny cannot be less than minCny');
    input.done();
    await this.priceGuard.check(price);

    const id = await this.transactions.run(async (manager) => {
      await lockMakerForPosting(this.users, manager, caller.id, true);
      return this.market.insertOffer(manager, {
        counterpartyId: caller.id,
        minCny,
        maxCny,
        totalCny,
        price,
        paymentMethods: body.paymentMethods,
      });
    });
    this.listings.clear();
    return this.get(id);
  }

  /** Best (highest) rate first; `mine=true` lists the caller's own offers in any status. */
  async list(caller: AuthUser, query: ListOffersQuery): Promise<Page<OfferView> & { referenceRate: string }> {
    const input = new InputParser();
    const amountCny = input.optionalAmount(query.amountCny, 'amountCny');
    const { minRate, maxRate, cursor, limit, reference } = await openListing('offers', input, query, this.rates, this.cursors);
    const mine = query.mine === 'true';
    const statuses: OfferStatus[] = query.status ? [query.status] : mine ? [...OFFER_STATUSES] : ['active'];
    const read = async () => {
      const rows = await this.market.listOffers({
        statuses,
        counterpartyId: mine ? caller.id : undefined,
        hideSuspendedMakers: !mine,
        paymentMethod: query.paymentMethod,
        amountCny,
        plan: planListing('offers', reference, cursor?.last, { minRate, maxRate }),
        reference,
        limit: limit + 1,
      });
      return listingPage('offers', rows, reference, limit, presentOffer, this.cursors);
    };
    // The caller's own offers and pages walked by cursor are read every time; the shared first pages are cached.
    if (mine || cursor) return read();
    const key = JSON.stringify([
      'offers',
      reference.toString(),
      statuses,
      query.paymentMethod,
      amountCny?.toString(),
      minRate?.toString(),
      maxRate?.toString(),
      limit,
    ]);
    return this.listings.get(key, read);
  }

  async get(id: string): Promise<OfferView> {
    const offer = await this.market.findOffer(id);
    if (!offer) throw DomainError.notFound('Offer');
    const reference = await this.rates.current();
    return presentOffer(offer, reference?.rate ?? null);
  }

  /** pause: active|exhausted → paused; resume: paused → active (exhausted if too little is left); close: → closed. */
  async act(caller: AuthUser, id: string, action: keyof typeof OFFER_ACTIONS): Promise<OfferView> {
    const { from, to } = OFFER_ACTIONS[action];
    const moved = await this.transactions.run((manager) => this.market.setOfferStatus(manager, id, caller.id, from, to));
    if (moved) this.listings.clear();
    if (!moved) {
      const offer = await this.market.findOffer(id);
      if (!offer) throw DomainError.notFound('Offer');
      if (offer.counterpartyId !== caller.id) throw new DomainError('forbidden', 'Only the offer’s counterparty may change it');
      throw new DomainError(
        'invalid_state_transition',
        `The offer is ${offer.status}; it cannot be ${action === 'close' ? 'closed' : `${action}d`} from there`,
      );
    }
    return this.get(id);
  }
}
