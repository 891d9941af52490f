import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, CurrentUser, Roles } from '../common/auth/decorators';
import { PageQuery } from '../common/http/pagination';
import { UuidParam } from '../common/http/uuid-param';
import { TradeView } from '../trades/dto/trades.dto';
import { TRADE_STATES } from '../trades/trade.state-machine';
import type { TradeState } from '../trades/trade.state-machine';
import { AdminTradesService } from './admin-trades.service';

export class AdminTradesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: TRADE_STATES })
  @IsOptional()
  @IsIn(TRADE_STATES)
  state?: TradeState;

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  settlementFailing?: boolean;
}

@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin/trades')
export class AdminTradesController {
  constructor(private readonly trades: AdminTradesService) {}

  @Get()
  @ApiOkResponse({ description: '{ data: TradeView[], nextCursor }, newest first' })
  list(@Query() query: AdminTradesQuery) {
    return this.trades.list(query);
  }

  /** An operator's decision that moves money: an unscoped key or a token, never a scoped key. */
  @Post(':id/retry-settlement')
  @AccountManagement()
  @HttpCode(200)
  @ApiOkResponse({ type: TradeView })
  retry(@CurrentUser() operator: AuthUser, @UuidParam() id: string): Promise<TradeView> {
    return this.trades.retrySettlement(operator, id);
  }
}
