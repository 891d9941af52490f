import { ApiPageResponse } from '../../common/http/api-schema';
import { Body, Controller, Delete, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../../common/auth/auth-user';
import { AccountManagement, CurrentUser } from '../../common/auth/decorators';
import { PageQuery } from '../../common/http/pagination';
import { UuidParam } from '../../common/http/uuid-param';
import { ShownOnce } from '../../idempotency/shown-once.decorator';
import {
  CreatedWebhookEndpointView,
  CreateWebhookEndpointDto,
  WebhookDeliveriesQuery,
  WebhookDeliveryView,
  WebhookEndpointView,
} from './dto/webhooks.dto';
import { WebhookEndpointsService } from './webhook-endpoints.service';

/**
 * Client webhooks (API.md "Events: streams and client webhooks"). Any user manages their own endpoints; managing
 * them is managing the account, so a scoped API key may only read.
 */
@ApiTags('webhooks')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @Post('endpoints')
  @AccountManagement()
  @ShownOnce('secret')
  @ApiCreatedResponse({ type: CreatedWebhookEndpointView, description: 'the secret is shown only here (not in an idempotent replay)' })
  create(@CurrentUser() caller: AuthUser, @Body() body: CreateWebhookEndpointDto): Promise<CreatedWebhookEndpointView> {
    return this.endpoints.create(caller, body);
  }

  @Get('endpoints')
  @ApiPageResponse(WebhookEndpointView, 'the caller’s endpoints, never a secret')
  list(@CurrentUser() caller: AuthUser, @Query() query: PageQuery) {
    return this.endpoints.list(caller, query);
  }

  @Delete('endpoints/:id')
  @AccountManagement()
  @ApiOkResponse({ type: WebhookEndpointView, description: 'the endpoint, deleted: nothing more is delivered to it' })
  delete(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<WebhookEndpointView> {
    return this.endpoints.delete(caller, id);
  }

  @Post('endpoints/:id/enable')
  @HttpCode(200)
  @AccountManagement()
  @ApiOkResponse({ type: WebhookEndpointView, description: 'enabled again, its run of failed events forgotten' })
  enable(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<WebhookEndpointView> {
    return this.endpoints.enable(caller, id);
  }

  @Post('endpoints/:id/ping')
  @HttpCode(202)
  @AccountManagement()
  @ApiAcceptedResponse({ type: WebhookDeliveryView, description: 'a ping event, accepted for delivery to this endpoint' })
  ping(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<WebhookDeliveryView> {
    return this.endpoints.ping(caller, id);
  }

  @Get('deliveries')
  @ApiPageResponse(WebhookDeliveryView, 'newest first')
  deliveries(@CurrentUser() caller: AuthUser, @Query() query: WebhookDeliveriesQuery) {
    return this.endpoints.deliveries(caller, query);
  }
}
