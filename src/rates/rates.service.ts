import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DomainError } from '../common/errors';
import { marketConfig } from '../config';
import { RATE_FEED, RateFeed } from './rate-feed.port';
import { RatesRepository, StoredRate } from './rates.repository';

export interface Reference {
  rate: bigint;
  asOf: Date;
  stale: boolean;
}

@Injectable()
export class RatesService {
  /** The latest reference as last read, shared by concurrent callers, until `referenceCacheMs` after the read. */
  private latest?: { read: Promise<StoredRate | null>; until: number };

  constructor(
    private readonly rates: RatesRepository,
    @Inject(RATE_FEED) private readonly feed: RateFeed,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
  ) {}

  /** The latest reference, stale or not; null before the first refresh. */
  async current(): Promise<Reference | null> {
    const now = Date.now();
    if (!this.latest || this.latest.until <= now) {
      const read = this.rates.latest();
      this.latest = { read, until: now + this.config.referenceCacheMs };
      // A failed read is not kept: the next caller asks again.
      read.catch(() => {
        if (this.latest?.read === read) this.latest = undefined;
      });
    }
    const latest = await this.latest.read;
    if (!latest) return null;
    return { rate: latest.rate, asOf: latest.asOf, stale: Date.now() - latest.asOf.getTime() > this.config.referenceStaleAfterMs };
  }

  /** The reference where a trade or a fixed price needs it: 503 `reference_rate_stale` when it is old or missing. */
  async requireFresh(): Promise<Reference> {
    const reference = await this.current();
    if (!reference || reference.stale) throw this.stale('The reference rate is out of date; try again when the rate feed has recovered');
    return reference;
  }

  /**
   * 503 `reference_rate_stale`, with `Retry-After`: the feed is asked once every refresh period, so the reference
   * can be fresh again no sooner than the next ask, and will be then if the feed has recovered.
   */
  stale(detail: string): DomainError {
    const error = new DomainError('reference_rate_stale', detail);
    error.retryAfterSeconds = Math.max(1, Math.ceil(this.config.referenceRefreshEveryMs / 1000));
    return error;
  }

  /** Asks the feed and keeps the answer (an old answer makes a reference that is stale at once). */
  async refresh(): Promise<Reference> {
    const quote = await this.feed.latest();
    await this.record(quote.rate, quote.asOf, this.feed.source);
    return { rate: quote.rate, asOf: quote.asOf, stale: Date.now() - quote.asOf.getTime() > this.config.referenceStaleAfterMs };
  }

  async record(rate: bigint, asOf: Date, source: string): Promise<void> {
    await this.rates.insert({ rate, asOf, source });
    this.forget();
  }

  /** Drops the reference this process last read, so the next caller reads the table again. */
  forget(): void {
    this.latest = undefined;
  }
}
