import { Controller, Get, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiProduces,
  ApiSecurity,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthUser } from '../../common/auth/auth-user';
import { CurrentUser } from '../../common/auth/decorators';
import { UuidParam } from '../../common/http/uuid-param';
import { TradeQueriesService } from '../../trades/trade-queries.service';
import { EventStreams } from './event-streams.service';

const STREAM_RESPONSE = {
  description:
    'Server-sent events: each event as `id: <event id>`, `event: <type>`, `data: <envelope JSON {id, type, createdAt, data}>`; ' +
    'a comment line at least every 15 s. Delivery is at least once (deduplicate by id) and not ordered (data.trade.updatedAt orders).',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
};
const LAST_EVENT_ID = {
  name: 'Last-Event-ID',
  required: false,
  description: 'The last event id received: the stream first sends what was missed since (up to 24 h back)',
};
const TOO_MANY = { description: 'rate_limited: STREAMS_PER_USER streams are open already (Retry-After)' };

/** Event streams (API.md "Events: streams and client webhooks"): authenticated like the rest of /v1, by header only. */
@ApiTags('events')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1')
export class StreamsController {
  constructor(
    private readonly streams: EventStreams,
    private readonly trades: TradeQueriesService,
  ) {}

  @Get('stream')
  @ApiProduces('text/event-stream')
  @ApiHeader(LAST_EVENT_ID)
  @ApiOkResponse(STREAM_RESPONSE)
  @ApiTooManyRequestsResponse(TOO_MANY)
  async all(@CurrentUser() caller: AuthUser, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.streams.open(caller, request, reply, { kind: 'user' });
  }

  @Get('trades/:id/stream')
  @ApiProduces('text/event-stream')
  @ApiHeader(LAST_EVENT_ID)
  @ApiOkResponse(STREAM_RESPONSE)
  @ApiNotFoundResponse({ description: 'not_found: no such trade, or the caller is neither its participant nor an operator' })
  @ApiTooManyRequestsResponse(TOO_MANY)
  async trade(
    @CurrentUser() caller: AuthUser,
    @UuidParam() id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // 404 for anyone but its parties and operators, as GET /v1/trades/:id answers.
    const trade = await this.trades.visible(caller, id);
    const role = caller.id === trade.travelerId ? 'traveler' : caller.id === trade.counterpartyId ? 'counterparty' : 'operator';
    await this.streams.open(caller, request, reply, { kind: 'trade', tradeId: trade.id, role });
  }
}
