import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DomainError } from '../common/errors';
import { formatRate } from '../common/money';
import { marketConfig } from '../config';
import { RatesService } from '../rates/rates.service';
import { Price, withinGuard } from './pricing';

/**
 * The rate guard at posting: a fixed rate must lie within the configured distance of a fresh reference
 * (stale → 503 `reference_rate_stale`); a floating premium beyond that distance could never trade.
 * Trades check the effective rate again when they are created.
 */
@Injectable()
export class PriceGuard {
  constructor(
    private readonly rates: RatesService,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
  ) {}

  async check(price: Price): Promise<void> {
    const guardBps = this.config.rateGuardBps;
    if (price.type === 'floating') {
      if (Math.abs(price.premiumBps) > guardBps) {
        throw new DomainError('rate_out_of_bounds', `premiumBps must be within ±${guardBps} of the reference rate`);
      }
      return;
    }
    const reference = await this.rates.requireFresh();
    if (!withinGuard(price.rate, reference.rate, guardBps)) {
      throw new DomainError(
        'rate_out_of_bounds',
        `The rate ${formatRate(price.rate)} is more than ${guardBps / 100}% from the reference rate ${formatRate(reference.rate)}`,
      );
    }
  }
}
