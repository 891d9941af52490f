import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiRate } from '../common/http/api-schema';
import { Public } from '../common/auth/decorators';
import { formatRate } from '../common/money';
import { RatesService } from './rates.service';

export class ReferenceRateView {
  @ApiRate({ example: '7.2400', description: 'CNY per 1 USD' }) rate: string;
  @ApiProperty() asOf: string;
  @ApiProperty({ description: 'Older than the allowed age: no trade and no fixed-price posting until it recovers' }) stale: boolean;
}

@ApiTags('market')
@Public()
@Controller('v1/rates')
export class RatesController {
  constructor(private readonly rates: RatesService) {}

  @Get('usd-cny')
  @ApiOkResponse({ type: ReferenceRateView })
  async usdCny(): Promise<ReferenceRateView> {
    const reference = await this.rates.current();
    if (!reference) throw this.rates.stale('No reference rate yet; the rate feed has not answered');
    return { rate: formatRate(reference.rate), asOf: reference.asOf.toISOString(), stale: reference.stale };
  }
}
