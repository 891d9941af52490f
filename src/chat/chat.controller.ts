import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { CurrentUser, Roles } from '../common/auth/decorators';
import { PageQuery } from '../common/http/pagination';
import { UuidParam } from '../common/http/uuid-param';
import { ChatService } from './chat.service';
import { MessagePage, MessageView, PostMessageDto } from './dto/chat.dto';

/**
 * A trade's chat. Posting is the parties' (operators: 403); suspended parties post on their live trades only.
 * Reading: the parties, and operators once the trade has had a dispute (audited).
 */
@ApiTags('trades')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/trades')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  @Post(':id/messages')
  @Roles('traveler', 'counterparty')
  @ApiCreatedResponse({ type: MessageView })
  post(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: PostMessageDto): Promise<MessageView> {
    return this.chat.post(caller, id, body.text);
  }

  @Get(':id/messages')
  @ApiOkResponse({ type: MessagePage, description: 'the trade’s messages, oldest first' })
  list(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Query() query: PageQuery): Promise<MessagePage> {
    return this.chat.list(caller, id, query);
  }
}
