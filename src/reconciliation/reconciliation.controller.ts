import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { CurrentUser, Roles } from '../common/auth/decorators';
import { ReconciliationQueuedView, ReconciliationView } from './dto/reconciliation.dto';
import { ReconciliationService } from './reconciliation.service';

@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin/reconciliation')
export class ReconciliationController {
  constructor(private readonly reconciliation: ReconciliationService) {}

  @Get()
  @ApiOkResponse({ type: ReconciliationView, description: 'the last run and every mismatch still open' })
  latest(): Promise<ReconciliationView> {
    return this.reconciliation.latest();
  }

  @Post('run')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: ReconciliationQueuedView, description: 'a run is queued now (audited); GET shows it once it has finished' })
  run(@CurrentUser() operator: AuthUser) {
    return this.reconciliation.requestRun(operator);
  }
}
