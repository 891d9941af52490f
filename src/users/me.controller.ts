import { Body, Controller, Delete, Get, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, ActiveAccountRequired, CurrentUser, PasswordSignInRequired, Roles } from '../common/auth/decorators';
import { PageQuery } from '../common/http/pagination';
import { UuidParam } from '../common/http/uuid-param';
import { ApiKeyView, CreateApiKeyDto, CreatedApiKeyView, PayoutAccountDto, UserView, WechatWalletDto } from './dto/users.dto';
import { UsersService } from './users.service';

@ApiTags('accounts')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/me')
export class MeController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOkResponse({ type: UserView })
  me(@CurrentUser() caller: AuthUser): Promise<UserView> {
    return this.users.me(caller);
  }

  @Put('wechat-wallet')
  @Roles('traveler', 'counterparty')
  @AccountManagement()
  @ApiOkResponse({ type: UserView })
  setWechatWallet(@CurrentUser() caller: AuthUser, @Body() body: WechatWalletDto): Promise<UserView> {
    return this.users.setWechatWallet(caller, body.wechatId);
  }

  @Put('payout-account')
  @Roles('counterparty')
  @AccountManagement()
  @ApiOkResponse({ type: UserView })
  setPayoutAccount(@CurrentUser() caller: AuthUser, @Body() body: PayoutAccountDto): Promise<UserView> {
    return this.users.setPayoutAccount(caller, body);
  }

  @Post('api-keys')
  @PasswordSignInRequired()
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: CreatedApiKeyView })
  createApiKey(@CurrentUser() caller: AuthUser, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    return this.users.createApiKey(caller, body);
  }

  @Get('api-keys')
  @ApiOkResponse({ description: '{ data: ApiKeyView[], nextCursor }' })
  listApiKeys(@CurrentUser() caller: AuthUser, @Query() query: PageQuery) {
    return this.users.listApiKeys(caller, query);
  }

  @Delete('api-keys/:id')
  @PasswordSignInRequired()
  @ApiOkResponse({ type: ApiKeyView })
  revokeApiKey(@CurrentUser() caller: AuthUser, @UuidParam() id: string): Promise<ApiKeyView> {
    return this.users.revokeApiKey(caller, id);
  }
}
