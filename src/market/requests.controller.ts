import { ApiPageResponse, decimalSchema } from '../common/http/api-schema';
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { ActiveAccountRequired, CurrentUser, Roles } from '../common/auth/decorators';
import { SchemaQuery } from '../common/http/schema-query';
import { UuidParam } from '../common/http/uuid-param';
import { CreateRequestDto, ListRequestsQuery, RequestView } from './dto/market.dto';
import { RequestsService } from './requests.service';

@ApiTags('market')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/requests')
export class RequestsController {
  constructor(private readonly requests: RequestsService) {}

  @Post()
  @Roles('traveler')
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: RequestView })
  create(@CurrentUser() caller: AuthUser, @Body() body: CreateRequestDto): Promise<RequestView> {
    return this.requests.create(caller, body);
  }

  @Get()
  @ApiPageResponse(RequestView, undefined, {
    name: 'RequestPage',
    properties: {
      referenceRate: decimalSchema('rate', { example: '7.2400', description: 'the reference rate the effective rates were computed with' }),
    },
    required: ['referenceRate'],
  })
  list(@CurrentUser() caller: AuthUser, @SchemaQuery() query: ListRequestsQuery) {
    return this.requests.list(caller, query);
  }

  @Get(':id')
  @ApiOkResponse({ type: RequestView })
  get(@UuidParam() id: string): Promise<RequestView> {
    return this.requests.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Roles('traveler')
  @ApiOkResponse({ type: RequestView })
  cancel(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<RequestView> {
    return this.requests.cancel(caller, id);
  }
}
