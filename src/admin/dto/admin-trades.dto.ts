import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { OptionalOneOf } from '../../common/http/optional-fields';
import { TRADE_STATES } from '../../trades/trade.state-machine';
import type { TradeState } from '../../trades/trade.state-machine';

/** The operators' list of trades: by state, or only those whose settlement is failing. */
export class AdminTradesQuery extends PageQuery {
  @OptionalOneOf(TRADE_STATES)
  state?: TradeState;

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  settlementFailing?: boolean;
}
