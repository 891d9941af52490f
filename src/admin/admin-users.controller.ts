import { ApiPageResponse } from '../common/http/api-schema';
import { Body, Controller, Get, HttpCode, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, CurrentUser, Roles } from '../common/auth/decorators';
import { UuidParam } from '../common/http/uuid-param';
import { AdminUsersService } from '../users/admin-users.service';
import { AuditEntryView, AuditQuery } from '../audit/dto/audit.dto';
import { SetTierDto, UserView } from '../users/dto/users.dto';
import { AuditService } from '../audit/audit.service';

@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin')
export class AdminUsersController {
  constructor(
    private readonly adminUsers: AdminUsersService,
    private readonly audit: AuditService,
  ) {}

  @Get('users/:id')
  @ApiOkResponse({
    type: UserView,
    description: 'The user, with `disputes: {won, lost}`, trade counts, `flags`, `selfTradeRefusals` and the latest `handleChanges`',
  })
  view(@UuidParam() id: string) {
    return this.adminUsers.view(id);
  }

  @Post('users/:id/suspend')
  @AccountManagement()
  @HttpCode(200)
  @ApiOkResponse({ type: UserView })
  suspend(@CurrentUser() operator: AuthUser, @UuidParam() id: string): Promise<UserView> {
    return this.adminUsers.suspend(operator, id);
  }

  @Post('users/:id/unsuspend')
  @AccountManagement()
  @HttpCode(200)
  @ApiOkResponse({ type: UserView })
  unsuspend(@CurrentUser() operator: AuthUser, @UuidParam() id: string): Promise<UserView> {
    return this.adminUsers.unsuspend(operator, id);
  }

  @Put('users/:id/tier')
  @AccountManagement()
  @ApiOkResponse({ type: UserView })
  setTier(@CurrentUser() operator: AuthUser, @UuidParam() id: string, @Body() body: SetTierDto): Promise<UserView> {
    return this.adminUsers.setTier(operator, id, body.tier);
  }

  @Get('audit')
  @ApiPageResponse(AuditEntryView)
  auditLog(@Query() query: AuditQuery) {
    return this.audit.list(query);
  }
}
