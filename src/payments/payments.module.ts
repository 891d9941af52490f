import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { BankFundingService } from './funding/bank-funding.service';
import { BankTransfersRepository } from './funding/bank-transfers.repository';
import { FundingController } from './funding/funding.controller';
import { FundingProcessor, SettlementProcessor } from './funding/funding.processors';
import { FundingRepository } from './funding/funding.repository';
import { FundingService } from './funding/funding.service';
import { ProviderWebhooksController } from './funding/provider-webhooks.controller';
import { ProviderWorkSweeper } from './funding/provider-work.sweeper';
import { SettlementMetrics } from './funding/settlement-metrics';
import { SettlementService } from './funding/settlement.service';
import { BANK } from './providers/bank/bank.port';
import { BankHttpClient } from './providers/bank/bank-http.client';
import { PAYPAL } from './providers/paypal/paypal.port';
import { PaypalRestClient } from './providers/paypal/paypal-rest.client';
import { PaypalWebhookVerifier } from './providers/paypal/paypal-webhook.verifier';

/**
 * The provider adapters behind their ports, and the USD leg built on them: funding, settlement and the
 * providers' callbacks. Payments imports trades (it drives their transitions); trades never imports payments.
 */
@Module({})
export class PaymentsModule {
  static register(options: { workers: boolean; trades: DynamicModule }): DynamicModule {
    return {
      module: PaymentsModule,
      imports: [options.trades, LedgerModule],
      controllers: [FundingController, ProviderWebhooksController],
      providers: [
        PaypalRestClient,
        { provide: PAYPAL, useExisting: PaypalRestClient },
        PaypalWebhookVerifier,
        BankHttpClient,
        { provide: BANK, useExisting: BankHttpClient },
        BankTransfersRepository,
        BankFundingService,
        FundingRepository,
        FundingService,
        SettlementService,
        SettlementMetrics,
        ...(options.workers ? [FundingProcessor, SettlementProcessor, ProviderWorkSweeper] : []),
      ],
      exports: [PAYPAL, BANK, PaypalWebhookVerifier],
    };
  }
}
