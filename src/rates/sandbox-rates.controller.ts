import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiRate } from '../common/http/api-schema';
import { Public } from '../common/auth/decorators';
import { formatRate } from '../common/money';
import { MOCK_RATE_FEED, RateFeed } from './rate-feed.port';

class FeedRateView {
  @ApiRate({ example: '7.2400' }) rate: string;
  @ApiProperty({ format: 'date-time' }) asOf: string;
}

/** The mock rate feed's own API, as a real feed would serve it (sandbox mode only). */
@ApiTags('sandbox')
@Public()
@Controller('sandbox/rates')
export class SandboxRatesController {
  constructor(@Inject(MOCK_RATE_FEED) private readonly feed: RateFeed) {}

  @Get('usd-cny')
  @ApiOkResponse({ type: FeedRateView })
  async usdCny(): Promise<{ rate: string; asOf: string }> {
    const quote = await this.feed.latest();
    return { rate: formatRate(quote.rate), asOf: quote.asOf.toISOString() };
  }
}
