import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { ProviderHealthModule } from '../provider-health/provider-health.module';
import { BankFundingService } from './funding/bank-funding.service';
import { BankTransfersRepository } from './funding/bank-transfers.repository';
import { FundingController } from './funding/funding.controller';
import { FundingPoll } from './funding/funding-poll';
import { FundingProcessor } from './funding/funding.processors';
import { FundingRepository } from './funding/funding.repository';
import { FundingService } from './funding/funding.service';
import { ProviderEventsRepository } from './funding/provider-events.repository';
import { ProviderReceipts } from './funding/provider-receipts.service';
import { ProviderWebhooksController } from './funding/provider-webhooks.controller';
import { ProviderWorkRepository } from './funding/provider-work.repository';
import { ProviderWorkSweeper } from './funding/provider-work.sweeper';
import { AfterTheEnd } from './settlement/after-the-end';
import { SettlementAfterCommit } from './settlement/settlement-after-commit';
import { SettlementAttempts } from './settlement/settlement-attempts';
import { SettlementMetrics } from './settlement/settlement-metrics';
import { SettlementMoves } from './settlement/settlement-moves';
import { SettlementProcessor } from './settlement/settlement.processor';
import { SettlementRepository } from './settlement/settlement.repository';
import { SettlementService } from './settlement/settlement.service';
import { BANK } from './providers/bank/bank.port';
import { WECHAT } from './providers/wechat/wechat.port';
import { WechatMerchantKey } from './providers/wechat/wechat-merchant-key';
import { WechatPayClient } from './providers/wechat/wechatpay.client';
import { PayoutVerificationService } from './verification/payout-verification.service';
import { ProviderChecksAfterCommit } from './provider-checks-after-commit';
import { VerificationProcessor } from './verification/verification.processor';
import { BankHttpClient } from './providers/bank/bank-http.client';
import { PAYPAL } from './providers/paypal/paypal.port';
import { PaypalRestClient } from './providers/paypal/paypal-rest.client';
import { PaypalWebhookVerifier } from './providers/paypal/paypal-webhook.verifier';

/**
 * The provider adapters behind their ports, and the USD leg built on them: funding, settlement and the
 * providers' callbacks, and the RMB leg's verification. Payments imports trades (it drives their transitions)
 * and disputes (a failed verification opens one); neither imports payments.
 */
@Module({})
export class PaymentsModule {
  static register(options: { workers: boolean; trades: DynamicModule; disputes: DynamicModule }): DynamicModule {
    return {
      module: PaymentsModule,
      imports: [options.trades, options.disputes, LedgerModule, ProviderHealthModule],
      controllers: [FundingController, ProviderWebhooksController],
      providers: [
        PaypalRestClient,
        { provide: PAYPAL, useExisting: PaypalRestClient },
        PaypalWebhookVerifier,
        BankHttpClient,
        { provide: BANK, useExisting: BankHttpClient },
        BankTransfersRepository,
        WechatMerchantKey,
        WechatPayClient,
        { provide: WECHAT, useExisting: WechatPayClient },
        PayoutVerificationService,
        BankFundingService,
        FundingRepository,
        ProviderEventsRepository,
        ProviderReceipts,
        FundingPoll,
        ProviderWorkRepository,
        FundingService,
        SettlementRepository,
        SettlementMoves,
        AfterTheEnd,
        SettlementService,
        SettlementAttempts,
        SettlementAfterCommit,
        SettlementMetrics,
        ProviderChecksAfterCommit,
        ...(options.workers ? [FundingProcessor, SettlementProcessor, VerificationProcessor, ProviderWorkSweeper] : []),
      ],
      exports: [PAYPAL, BANK, WECHAT, PaypalWebhookVerifier, BankTransfersRepository],
    };
  }
}
