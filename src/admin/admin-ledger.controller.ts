import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/auth/decorators';
import { LedgerCheckService } from '../trades/ledger-check.service';

@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin/ledger')
export class AdminLedgerController {
  constructor(private readonly checker: LedgerCheckService) {}

  @Get('check')
  @ApiOkResponse({
    description: 'ok when every ledger invariant holds; otherwise one violation per broken invariant',
    schema: {
      type: 'object',
      required: ['ok', 'violations'],
      properties: {
        ok: { type: 'boolean' },
        violations: {
          type: 'array',
          items: {
            type: 'object',
            required: ['invariant', 'detail'],
            properties: { invariant: { type: 'string' }, detail: { type: 'string' }, tradeId: { type: 'string', format: 'uuid' } },
          },
        },
      },
    },
  })
  check() {
    return this.checker.check();
  }
}
