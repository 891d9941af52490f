import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { Cursors } from '../common/http/cursors';
import { Page } from '../common/http/pagination';
import { marketConfig } from '../config';
import { OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { expireRequestJobId } from '../queues/job-ids';
import { queuedWhenSet } from '../queues/sweep-horizon';
import { RatesService } from '../rates/rates.service';
import { UsersRepository } from '../users/users.repository';
import { CreateRequestDto, ListRequestsQuery, RequestView } from './dto/market.dto';
import { planListing } from './listing-order';
import { listingPage, openListing } from './listing';
import { ListingCache } from './listing-cache';
import { InputParser } from './market-input';
import { presentRequest } from './market.presenter';
import { MarketRepository } from './market.repository';
import { requestStatus, RequestStatus } from './market.types';
import { lockMakerForPosting } from './maker-check';
import { PriceGuard } from './price-guard';
import { Transactions } from '../database/transactions';

@Injectable()
export class RequestsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly market: MarketRepository,
    private readonly users: UsersRepository,
    private readonly rates: RatesService,
    private readonly outbox: OutboxService,
    private readonly priceGuard: PriceGuard,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
    private readonly cursors: Cursors,
    private readonly listings: ListingCache,
  ) {}

  /**
   * Posts a traveler's request (status `open`). In one transaction: locks the traveler's row (suspension
   * and WeChat wallet checked under it), inserts the request, and writes the outbox row of its expiry job.
   */
  async create(caller: AuthUser, body: CreateRequestDto): Promise<RequestView> {
    const input = new InputParser();
    const amountCny = input.amount(body.amountCny, 'amountCny');
    const price = input.price(body.price);
    const minFillCny = input.optionalAmount(body.minFillCny, 'minFillCny') ?? amountCny;
    if (minFillCny > amountCny && amountCny > 0n) input.fail('minFillCny', 'too_large', 'minFillCny cannot be more than amountCny');
    input.done();
    await this.priceGuard.check(price);

    const minutes = body.expiresInMinutes ?? this.config.expiresInMinutesDefault;
    const expiresInMs = minutes * this.config.expiryMinuteMs;
    const id = await this.transactions.run(async (manager) => {
      await lockMakerForPosting(this.users, manager, caller.id, false);
      const requestId = await this.market.insertRequest(manager, {
        travelerId: caller.id,
        amountCny,
        minFillCny,
        price,
        paymentMethod: body.paymentMethod,
        expiresInMs,
      });
      // An expiry past the horizon gets its job from the expiry sweep as it nears (`queues/sweep-horizon.ts`).
      if (queuedWhenSet(expiresInMs, this.config.expirySweepEveryMs)) {
        await this.outbox.write(manager, {
          queue: QUEUES.market,
          jobName: JOBS.market.expireRequest,
          jobId: expireRequestJobId(requestId),
          payload: { requestId },
          delayMs: expiresInMs,
        });
      }
      return requestId;
    });
    this.listings.clear();
    return this.view(id);
  }

  /** A traveler lists their own requests; counterparties the open ones; operators all. Best (lowest) rate first. */
  async list(caller: AuthUser, query: ListRequestsQuery): Promise<Page<RequestView> & { referenceRate: string }> {
    const input = new InputParser();
    const minCny = input.optionalAmount(query.minCny, 'minCny');
    const maxCny = input.optionalAmount(query.maxCny, 'maxCny');
    const { minRate, maxRate, cursor, limit, reference } = await openListing('requests', input, query, this.rates, this.cursors);
    const own = caller.role === 'traveler';
    let statuses: RequestStatus[] = query.status ? [query.status] : ['open'];
    // Counterparties see open requests only, whatever they ask for.
    if (caller.role === 'counterparty') statuses = statuses.filter((s) => s === 'open');
    if (statuses.length === 0) return listingPage('requests', [], reference, limit, presentRequest, this.cursors);

    const read = async () => {
      const rows = await this.market.listRequests({
        statuses,
        travelerId: own ? caller.id : undefined,
        hideSuspendedMakers: !own,
        paymentMethod: query.paymentMethod,
        minCny,
        maxCny,
        plan: planListing('requests', reference, cursor?.last, { minRate, maxRate }),
        reference,
        limit: limit + 1,
      });
      return listingPage('requests', rows, reference, limit, presentRequest, this.cursors);
    };
    // A traveler's own requests, pages walked by cursor and other states than open (which time alone can change)
    // are read every time; the shared first pages of open requests are cached.
    if (own || cursor || statuses.length !== 1 || statuses[0] !== 'open') return read();
    const key = JSON.stringify([
      'requests',
      reference.toString(),
      statuses,
      query.paymentMethod,
      minCny?.toString(),
      maxCny?.toString(),
      minRate?.toString(),
      maxRate?.toString(),
      limit,
    ]);
    // An open request leaves the listing the moment its expiry passes, whether or not the sweeper has run.
    const firstExpiry = (page: { data: RequestView[] }) => Math.min(...page.data.map((r) => Date.parse(r.expiresAt)));
    return this.listings.get(key, read, firstExpiry);
  }

  async get(id: string): Promise<RequestView> {
    return this.view(id);
  }

  /** `open` or `filled` → `cancelled`, by its traveler. Trades already made go on; what they return stays out. */
  async cancel(caller: AuthUser, id: string): Promise<RequestView> {
    const cancelled = await this.transactions.run((manager) => this.market.cancelRequest(manager, id, caller.id));
    if (cancelled) this.listings.clear();
    if (!cancelled) {
      // Only its traveler cancels: to anyone else another traveler's request is not there to cancel.
      const request = await this.market.findRequest(id);
      if (!request || request.travelerId !== caller.id) throw DomainError.notFound('Request');
      throw new DomainError(
        'invalid_state_transition',
        `The request is ${requestStatus(request)}; only an open or filled request can be cancelled`,
      );
    }
    return this.view(id);
  }

  /**
   * API.md: any user reads any request, whatever its state (a counterparty who traded on one that is now filled,
   * cancelled or expired still reads it), as any user reads any offer. What a request shows is public: its terms
   * and its maker's public profile, never a payment handle. Listings are what show each role only some requests.
   */
  private async view(id: string): Promise<RequestView> {
    const request = await this.market.findRequest(id);
    if (!request) throw DomainError.notFound('Request');
    const reference = await this.rates.current();
    return presentRequest(request, reference?.rate ?? null);
  }
}
