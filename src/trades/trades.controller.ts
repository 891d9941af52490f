import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { ActiveAccountRequired, CurrentUser, Roles } from '../common/auth/decorators';
import { PageQuery } from '../common/http/pagination';
import { UuidParam } from '../common/http/uuid-param';
import { AcceptRequestDto, ListTradesQuery, ReportPayoutDto, TakeOfferDto, TradeView } from './dto/trades.dto';
import { TradesService } from './trades.service';

@ApiTags('trades')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/trades')
export class TradesController {
  constructor(private readonly trades: TradesService) {}

  @Get()
  @Roles('traveler', 'counterparty')
  @ApiOkResponse({ description: "{ data: TradeView[], nextCursor }: the caller's trades, newest first" })
  list(@CurrentUser() caller: AuthUser, @Query() query: ListTradesQuery) {
    return this.trades.list(caller, query);
  }

  @Get(':id')
  @ApiOkResponse({ type: TradeView })
  get(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<TradeView> {
    return this.trades.get(caller, id);
  }

  @Get(':id/events')
  @ApiOkResponse({ description: '{ data: TradeEventView[], nextCursor }: the timeline, oldest first' })
  events(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Query() query: PageQuery) {
    return this.trades.events(caller, id, query);
  }

  @Post(':id/payout')
  @HttpCode(200)
  @Roles('counterparty')
  @ApiOkResponse({ type: TradeView })
  reportPayout(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: ReportPayoutDto): Promise<TradeView> {
    return this.trades.reportPayout(caller, id, body.wechatTransferId);
  }

  @Post(':id/confirm-receipt')
  @HttpCode(200)
  @Roles('traveler')
  @ApiOkResponse({ type: TradeView })
  confirmReceipt(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<TradeView> {
    return this.trades.confirmReceipt(caller, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Roles('traveler', 'counterparty')
  @ApiOkResponse({ type: TradeView })
  cancel(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<TradeView> {
    return this.trades.cancel(caller, id);
  }
}

/** Accepting a request and taking an offer create trades, so they live with the trades. */
@ApiTags('trades')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1')
export class TradeCreationController {
  constructor(private readonly trades: TradesService) {}

  @Post('requests/:id/accept')
  @Roles('counterparty')
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: TradeView })
  accept(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: AcceptRequestDto): Promise<TradeView> {
    return this.trades.accept(caller, id, body);
  }

  @Post('offers/:id/take')
  @Roles('traveler')
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: TradeView })
  take(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: TakeOfferDto): Promise<TradeView> {
    return this.trades.take(caller, id, body);
  }
}
