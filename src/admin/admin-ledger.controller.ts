import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/auth/decorators';
import { LedgerCheckView } from './dto/admin-ledger.dto';
import { LedgerCheckService } from '../trades/ledger-check.service';

@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin/ledger')
export class AdminLedgerController {
  constructor(private readonly checker: LedgerCheckService) {}

  @Get('check')
  @ApiOkResponse({ type: LedgerCheckView })
  check(): Promise<LedgerCheckView> {
    return this.checker.check();
  }
}
