import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/decorators';
import { formatRate } from '../common/money';
import { MOCK_RATE_FEED, RateFeed } from './rate-feed.port';

/** The mock rate feed's own API, as a real feed would serve it (sandbox mode only). */
@ApiTags('sandbox')
@Public()
@Controller('sandbox/rates')
export class SandboxRatesController {
  constructor(@Inject(MOCK_RATE_FEED) private readonly feed: RateFeed) {}

  @Get('usd-cny')
  @ApiOkResponse({ description: '{ rate, asOf }' })
  async usdCny(): Promise<{ rate: string; asOf: string }> {
    const quote = await this.feed.latest();
    return { rate: formatRate(quote.rate), asOf: quote.asOf.toISOString() };
  }
}
