import { Body, Controller, Delete, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, ActiveAccountRequired, CurrentUser, Roles } from '../common/auth/decorators';
import { AccountDeletionService } from './account-deletion.service';
import { AccountExportService } from './account-export.service';
import { AccountExportView, DeleteAccountDto, DeletedUserView } from './dto/account-privacy.dto';

/** The caller's privacy rights: a copy of everything kept about them, and the deletion of their account. */
@ApiTags('accounts')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/me')
export class AccountPrivacyController {
  constructor(
    private readonly exports: AccountExportService,
    private readonly deletion: AccountDeletionService,
  ) {}

  // Payment handles in clear, and the end of the account: no scoped key may ask for either.
  @Get('export')
  @AccountManagement()
  @ApiOkResponse({ type: AccountExportView })
  export(@CurrentUser() caller: AuthUser): Promise<AccountExportView> {
    return this.exports.export(caller);
  }

  @Delete()
  @Roles('traveler', 'counterparty')
  @ActiveAccountRequired()
  @AccountManagement()
  @ApiOkResponse({ type: DeletedUserView })
  delete(@CurrentUser() caller: AuthUser, @Body() body: DeleteAccountDto): Promise<DeletedUserView> {
    return this.deletion.delete(caller, body.password);
  }
}
