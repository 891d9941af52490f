import { DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { FundingRepository } from '../payments/funding/funding.repository';
import { UsersModule } from '../users/users.module';
import { AdminLedgerController } from './admin-ledger.controller';
import { AdminRevealsController } from './admin-reveals.controller';
import { AdminTradesController } from './admin-trades.controller';
import { AdminTradesService } from './admin-trades.service';
import { AdminUsersController } from './admin-users.controller';
import { OperatorReveals } from './operator-reveals.service';

@Module({})
export class AdminModule {
  static register(options: { trades: DynamicModule }): DynamicModule {
    return {
      module: AdminModule,
      imports: [UsersModule, AuditModule, options.trades],
      controllers: [AdminUsersController, AdminLedgerController, AdminTradesController, AdminRevealsController],
      // The funding records are plain SQL with no state: the admin module reads and marks them directly.
      providers: [AdminTradesService, FundingRepository, OperatorReveals],
      // The console's pages act through the same services as the admin API.
      exports: [AdminTradesService, OperatorReveals],
    };
  }
}
