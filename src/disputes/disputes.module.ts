import { DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { OperatorStandingRepository } from '../users/operator-standing.repository';
import { AdminDisputesController, DisputesController } from './disputes.controller';
import { DisputesRepository } from './disputes.repository';
import { DisputesService } from './disputes.service';

/**
 * Disputes and the operators' work on them. Imports trades (it drives the trade's transitions); trades never
 * imports disputes. `DisputesService.openBySystem` is what WeChat verification calls when it fails.
 */
@Module({})
export class DisputesModule {
  static register(options: { trades: DynamicModule }): DynamicModule {
    return {
      module: DisputesModule,
      imports: [options.trades, AuditModule],
      controllers: [DisputesController, AdminDisputesController],
      providers: [DisputesRepository, DisputesService, OperatorStandingRepository],
      exports: [DisputesService, DisputesRepository],
    };
  }
}
