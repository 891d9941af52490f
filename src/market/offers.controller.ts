import { ApiPageResponse, decimalSchema } from '../common/http/api-schema';
import { applyDecorators, Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { ActiveAccountRequired, CurrentUser, Roles } from '../common/auth/decorators';
import { SchemaQuery } from '../common/http/schema-query';
import { UuidParam } from '../common/http/uuid-param';
import { CreateOfferDto, ListOffersQuery, OfferView } from './dto/market.dto';
import { OffersService } from './offers.service';

/** A counterparty's action on their own offer: 200 with the offer as it is after it. */
const OfferAction = (action: 'pause' | 'resume' | 'close') =>
  applyDecorators(Post(`:id/${action}`), HttpCode(200), Roles('counterparty'), ApiOkResponse({ type: OfferView }));

@ApiTags('market')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/offers')
export class OffersController {
  constructor(private readonly offers: OffersService) {}

  @Post()
  @Roles('counterparty')
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: OfferView })
  create(@CurrentUser() caller: AuthUser, @Body() body: CreateOfferDto): Promise<OfferView> {
    return this.offers.create(caller, body);
  }

  @Get()
  @ApiPageResponse(OfferView, undefined, {
    name: 'OfferPage',
    properties: {
      referenceRate: decimalSchema('rate', { example: '7.2400', description: 'the reference rate the effective rates were computed with' }),
    },
    required: ['referenceRate'],
  })
  list(@CurrentUser() caller: AuthUser, @SchemaQuery() query: ListOffersQuery) {
    return this.offers.list(caller, query);
  }

  @Get(':id')
  @ApiOkResponse({ type: OfferView })
  get(@UuidParam() id: string): Promise<OfferView> {
    return this.offers.get(id);
  }

  @OfferAction('pause')
  pause(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<OfferView> {
    return this.offers.act(caller, id, 'pause');
  }

  @OfferAction('resume')
  resume(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<OfferView> {
    return this.offers.act(caller, id, 'resume');
  }

  @OfferAction('close')
  close(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<OfferView> {
    return this.offers.act(caller, id, 'close');
  }
}
