import { ApiPageResponse } from '../common/http/api-schema';
import { Body, Controller, Delete, Get, Ip, Post, Put, Query } from '@nestjs/common';
import { ApiBodyExamples } from '../common/http/api-schema';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, ActiveAccountRequired, CurrentUser, PasswordSignInRequired, Roles } from '../common/auth/decorators';
import { PageQuery } from '../common/http/pagination';
import { UuidParam } from '../common/http/uuid-param';
import { ShownOnce } from '../idempotency/shown-once.decorator';
import { ApiKeyView, CreateApiKeyDto, CreatedApiKeyView, PayoutAccountDto, UserView, WechatWalletDto } from './dto/users.dto';
import { PaymentHandlesService } from './payment-handles.service';
import { UsersService } from './users.service';

@ApiTags('accounts')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/me')
export class MeController {
  constructor(
    private readonly users: UsersService,
    private readonly handles: PaymentHandlesService,
  ) {}

  @Get()
  @ApiOkResponse({ type: UserView })
  me(@CurrentUser() caller: AuthUser): Promise<UserView> {
    return this.users.me(caller);
  }

  /** Payment handles: locked while the owner has live commitments (409 `wallet_locked`), limited per day (429). */
  @Put('wechat-wallet')
  @Roles('traveler', 'counterparty')
  @ActiveAccountRequired()
  @AccountManagement()
  @ApiOkResponse({ type: UserView })
  setWechatWallet(@CurrentUser() caller: AuthUser, @Body() body: WechatWalletDto, @Ip() ip: string): Promise<UserView> {
    return this.handles.setWechatWallet(caller, body.wechatId, ip ?? null);
  }

  @Put('payout-account')
  @Roles('counterparty')
  @ActiveAccountRequired()
  @AccountManagement()
  @ApiOkResponse({ type: UserView })
  setPayoutAccount(@CurrentUser() caller: AuthUser, @Body() body: PayoutAccountDto, @Ip() ip: string): Promise<UserView> {
    return this.handles.setPayoutAccount(caller, body, ip ?? null);
  }

  @Post('api-keys')
  @PasswordSignInRequired()
  @ActiveAccountRequired()
  @ShownOnce('key')
  @ApiCreatedResponse({ type: CreatedApiKeyView, description: 'the key is shown only here (not in an idempotent replay)' })
  @ApiBodyExamples(CreateApiKeyDto, {
    days: { summary: 'a trading key for 90 days', value: { name: 'trading bot', scope: 'trade', expiresInDays: 90 } },
    date: { summary: 'a read-only key until a date', value: { name: 'dashboard', scope: 'read', expiresAt: '2027-01-01T00:00:00Z' } },
    unscoped: { summary: 'a key without scope or expiry', value: { name: 'operations' } },
  })
  createApiKey(@CurrentUser() caller: AuthUser, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    return this.users.createApiKey(caller, body);
  }

  @Get('api-keys')
  @ApiPageResponse(ApiKeyView)
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
