import { DynamicModule, Module } from '@nestjs/common';
import { PaypalMockController } from '../payments/providers/paypal/mock/paypal-mock.controller';
import { PaypalMockDeliveryProcessor } from '../payments/providers/paypal/mock/paypal-mock.delivery.processor';
import { PaypalMockIdentity } from '../payments/providers/paypal/mock/paypal-mock.identity';
import { PaypalMockPayouts } from '../payments/providers/paypal/mock/paypal-mock.payouts';
import { PaypalMockReports } from '../payments/providers/paypal/mock/paypal-mock.reports';
import { PaypalMockReportsController } from '../payments/providers/paypal/mock/paypal-mock-reports.controller';
import { PaypalMockReplays } from '../payments/providers/paypal/mock/paypal-mock.replays';
import { PaypalMockService } from '../payments/providers/paypal/mock/paypal-mock.service';
import { PaypalMockWebhooks } from '../payments/providers/paypal/mock/paypal-mock.webhooks';
import { BankMockController } from '../payments/providers/bank/mock/bank-mock.controller';
import { BankMockProcessor } from '../payments/providers/bank/mock/bank-mock.processor';
import { BankMockService } from '../payments/providers/bank/mock/bank-mock.service';
import { WechatMockController } from '../payments/providers/wechat/mock/wechat-mock.controller';
import { WechatMockProcessor } from '../payments/providers/wechat/mock/wechat-mock.processor';
import { WechatMockService } from '../payments/providers/wechat/mock/wechat-mock.service';
import { WechatMerchantKey } from '../payments/providers/wechat/wechat-merchant-key';
import { FaultsController } from './faults.controller';
import { FaultsService } from './faults.service';
import { SandboxUrls } from './sandbox-urls';

/**
 * The provider mocks and their fault injection. Imported only in sandbox mode, so in production none of
 * these routes exist; the webhook deliveries run where workers run.
 */
@Module({})
export class SandboxModule {
  static register(options: { workers: boolean }): DynamicModule {
    return {
      module: SandboxModule,
      controllers: [FaultsController, PaypalMockController, PaypalMockReportsController, BankMockController, WechatMockController],
      providers: [
        FaultsService,
        SandboxUrls,
        PaypalMockService,
        PaypalMockIdentity,
        PaypalMockPayouts,
        PaypalMockReports,
        PaypalMockReplays,
        PaypalMockWebhooks,
        BankMockService,
        WechatMockService,
        WechatMerchantKey,
        ...(options.workers ? [PaypalMockDeliveryProcessor, BankMockProcessor, WechatMockProcessor] : []),
      ],
      exports: [FaultsService, PaypalMockIdentity, WechatMockService],
    };
  }
}
