import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DomainError } from '../common/errors';
import { marketConfig } from '../config';
import { RATE_FEED, RateFeed } from './rate-feed.port';
import { RatesRepository } from './rates.repository';

export interface Reference {
  rate: bigint;
  asOf: Date;
  stale: boolean;
}

@Injectable()
export class RatesService {
  constructor(
    private readonly rates: RatesRepository,
    @Inject(RATE_FEED) private readonly feed: RateFeed,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
  ) {}

  /** The latest reference, stale or not; null before the first refresh. */
  async current(): Promise<Reference | null> {
    const latest = await this.rates.latest();
    if (!latest) return null;
    return { rate: latest.rate, asOf: latest.asOf, stale: Date.now() - latest.asOf.getTime() > this.config.referenceStaleAfterMs };
  }

  /** The reference where a trade or a fixed price needs it: 503 `reference_rate_stale` when it is old or missing. */
  async requireFresh(): Promise<Reference> {
    const reference = await this.current();
    if (!reference || reference.stale) {
      throw new DomainError('reference_rate_stale', 'The reference rate is out of date; try again when the rate feed has recovered');
    }
    return reference;
  }

  /** Asks the feed and keeps the answer. */
  async refresh(): Promise<Reference> {
    const quote = await this.feed.latest();
    await this.record(quote.rate, quote.asOf, this.feed.source);
    return { rate: quote.rate, asOf: quote.asOf, stale: false };
  }

  async record(rate: bigint, asOf: Date, source: string): Promise<void> {
    await this.rates.insert({ rate, asOf, source });
  }
}
