import { DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { PAYPAL_READS } from '../payments/providers/paypal/paypal-reads.port';
import { PaypalReadsClient } from '../payments/providers/paypal/paypal-reads.client';
import { BankAndWechatChecks } from './bank-checks';
import { BankSearch } from './bank-search';
import { PaypalChecks } from './paypal-checks';
import { PayoutSearch } from './payout-search';
import { ReconciliationController } from './reconciliation.controller';
import { ReconciliationMetrics } from './reconciliation-metrics';
import { ReconciliationProcessor } from './reconciliation.processor';
import { ReconciliationRepository } from './reconciliation.repository';
import { ReconciliationRunsRepository } from './reconciliation-runs.repository';
import { ReconciliationScheduler } from './reconciliation.scheduler';
import { ReconciliationService } from './reconciliation.service';

/**
 * Reconciliation with the providers. Imports payments (for its provider ports: the bank and WeChat; PayPal's
 * read endpoints through their own port and client) and reads the ledger's tables. The console imports it for
 * its ledger page (the report and a run now, through ReconciliationService).
 */
@Module({})
export class ReconciliationModule {
  static register(options: { workers: boolean; payments: DynamicModule; trades: DynamicModule }): DynamicModule {
    return {
      module: ReconciliationModule,
      // Trades: a trade flagged by a mismatch tells its parties (TradeSettlementRepository).
      imports: [options.payments, options.trades, AuditModule],
      controllers: [ReconciliationController],
      providers: [
        PaypalReadsClient,
        { provide: PAYPAL_READS, useExisting: PaypalReadsClient },
        ReconciliationRepository,
        ReconciliationRunsRepository,
        PaypalChecks,
        BankAndWechatChecks,
        PayoutSearch,
        BankSearch,
        ReconciliationService,
        ReconciliationMetrics,
        ...(options.workers ? [ReconciliationProcessor, ReconciliationScheduler] : []),
      ],
      exports: [ReconciliationService],
    };
  }
}
