import { ApiPageResponse } from '../common/http/api-schema';
import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { ActiveAccountRequired, CurrentUser, Roles } from '../common/auth/decorators';
import { PageQuery } from '../common/http/pagination';
import { SchemaQuery } from '../common/http/schema-query';
import { UuidParam } from '../common/http/uuid-param';
import { AcceptRequestDto, ListTradesQuery, ReportPayoutDto, TakeOfferDto, TradeEventView, TradeView } from './dto/trades.dto';
import { TradeOpeningService } from './trade-opening.service';
import { TradePartyActionsService } from './trade-party-actions.service';
import { TradeQueriesService } from './trade-queries.service';

@ApiTags('trades')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/trades')
export class TradesController {
  constructor(
    private readonly queries: TradeQueriesService,
    private readonly actions: TradePartyActionsService,
  ) {}

  @Get()
  @Roles('traveler', 'counterparty')
  @ApiPageResponse(TradeView, "the caller's trades, newest first")
  list(@CurrentUser() caller: AuthUser, @SchemaQuery() query: ListTradesQuery) {
    return this.queries.list(caller, query);
  }

  @Get(':id')
  @ApiOkResponse({ type: TradeView })
  get(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<TradeView> {
    return this.queries.get(caller, id);
  }

  @Get(':id/events')
  @ApiPageResponse(TradeEventView, 'the timeline, oldest first')
  events(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Query() query: PageQuery) {
    return this.queries.events(caller, id, query);
  }

  @Post(':id/payout')
  @HttpCode(200)
  @Roles('counterparty')
  @ApiOkResponse({ type: TradeView })
  reportPayout(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: ReportPayoutDto): Promise<TradeView> {
    return this.actions.reportPayout(caller, id, body.wechatTransferId);
  }

  @Post(':id/confirm-receipt')
  @HttpCode(200)
  @Roles('traveler')
  @ApiOkResponse({ type: TradeView })
  confirmReceipt(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<TradeView> {
    return this.actions.confirmReceipt(caller, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Roles('traveler', 'counterparty')
  @ApiOkResponse({ type: TradeView })
  cancel(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<TradeView> {
    return this.actions.cancel(caller, id);
  }
}

/** Accepting a request and taking an offer create trades, so they live with the trades. */
@ApiTags('trades')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1')
export class TradeCreationController {
  constructor(private readonly opening: TradeOpeningService) {}

  @Post('requests/:id/accept')
  @Roles('counterparty')
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: TradeView })
  accept(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: AcceptRequestDto): Promise<TradeView> {
    return this.opening.accept(caller, id, body);
  }

  @Post('offers/:id/take')
  @Roles('traveler')
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: TradeView })
  take(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: TakeOfferDto): Promise<TradeView> {
    return this.opening.take(caller, id, body);
  }
}
