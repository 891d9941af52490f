import { ApiPageResponse } from '../common/http/api-schema';
import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, CurrentUser, Roles } from '../common/auth/decorators';
import { UuidParam } from '../common/http/uuid-param';
import { TradeView } from '../trades/dto/trades.dto';
import { AdminTradesService } from './admin-trades.service';
import { AdminTradesQuery } from './dto/admin-trades.dto';

@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin/trades')
export class AdminTradesController {
  constructor(private readonly trades: AdminTradesService) {}

  @Get()
  @ApiPageResponse(TradeView, 'newest first')
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
