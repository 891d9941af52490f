import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBodyExamples } from '../common/http/api-schema';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, CurrentUser, Roles } from '../common/auth/decorators';
import { UuidParam } from '../common/http/uuid-param';
import { DisputesService } from './disputes.service';
import {
  AssignDisputeDto,
  DisputeQueuePage,
  DisputeQueueQuery,
  DisputeView,
  OpenDisputeDto,
  ResolveDisputeDto,
  StatementDto,
  StatementView,
} from './dto/disputes.dto';

/** The parties' side. Suspended users may still dispute and add statements (SPEC.md): no active-account guard. */
@ApiTags('disputes')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1')
export class DisputesController {
  constructor(private readonly disputes: DisputesService) {}

  @Post('trades/:id/disputes')
  @Roles('traveler', 'counterparty')
  @ApiCreatedResponse({ type: DisputeView, description: 'the dispute, with its first statement' })
  open(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: OpenDisputeDto): Promise<DisputeView> {
    return this.disputes.open(caller, id, body);
  }

  @Get('disputes/:id')
  @ApiOkResponse({ type: DisputeView, description: 'the dispute with both sides’ statements (its parties and operators)' })
  get(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<DisputeView> {
    return this.disputes.get(caller, id);
  }

  @Post('disputes/:id/statements')
  @Roles('traveler', 'counterparty')
  @ApiCreatedResponse({ type: StatementView })
  addStatement(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: StatementDto): Promise<StatementView> {
    return this.disputes.addStatement(caller, id, body);
  }
}

/** Operator decisions (assign, resolve) need an unscoped API key or a token: a scoped key is for trading or reading. */
@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin/disputes')
export class AdminDisputesController {
  constructor(private readonly disputes: DisputesService) {}

  @Get()
  @ApiOkResponse({ type: DisputeQueuePage, description: 'the queue, oldest first, each with its trade in brief and its age' })
  queue(@Query() query: DisputeQueueQuery) {
    return this.disputes.queue(query);
  }

  @Post(':id/assign')
  @AccountManagement()
  @HttpCode(200)
  @ApiOkResponse({ type: DisputeView, description: 'the dispute, assigned to the caller' })
  assign(@CurrentUser() operator: AuthUser, @UuidParam() id: string, @Body() body: AssignDisputeDto): Promise<DisputeView> {
    return this.disputes.assign(operator, id, body ?? {});
  }

  @Post(':id/resolve')
  @AccountManagement()
  @HttpCode(200)
  @ApiOkResponse({ type: DisputeView, description: 'the dispute, resolved; the trade moves to releasing, refunding or splitting' })
  @ApiBodyExamples(ResolveDisputeDto, {
    release: { summary: 'the USD to the counterparty', value: { outcome: 'release', note: 'the WeChat receipt matches the trade' } },
    refund: { summary: 'the USD back to the traveler', value: { outcome: 'refund', note: 'no RMB arrived' } },
    split: {
      summary: 'part to each (the two amounts add up to the trade’s USD)',
      value: { outcome: 'split', travelerUsd: '50.01', counterpartyUsd: '88.11', note: 'part of the RMB arrived' },
    },
  })
  resolve(@CurrentUser() operator: AuthUser, @UuidParam() id: string, @Body() body: ResolveDisputeDto): Promise<DisputeView> {
    return this.disputes.resolve(operator, id, body);
  }
}
