import { DynamicModule, Module } from '@nestjs/common';
import { PaypalMockController } from './paypal/paypal-mock.controller';
import { PaypalMockDelivery } from './paypal/paypal-mock.delivery';
import { PaypalMockDeliveryProcessor } from './paypal/paypal-mock.delivery.processor';
import { PaypalMockIdentity } from './paypal/paypal-mock.identity';
import { PaypalMockPayouts } from './paypal/paypal-mock.payouts';
import { PaypalMockReports } from './paypal/paypal-mock.reports';
import { PaypalMockReportsController } from './paypal/paypal-mock-reports.controller';
import { PaypalMockReplays } from './paypal/paypal-mock.replays';
import { PaypalMockOAuth } from './paypal/paypal-mock-oauth.service';
import { PaypalMockService } from './paypal/paypal-mock.service';
import { PaypalMockWebhooks } from './paypal/paypal-mock.webhooks';
import { PaypalMockPaymentsRepository } from './paypal/paypal-mock-payments.repository';
import { PaypalMockPayoutsRepository } from './paypal/paypal-mock-payouts.repository';
import { PaypalMockRepository } from './paypal/paypal-mock.repository';
import { BankMockRepository } from './bank/bank-mock.repository';
import { WechatMockRepository } from './wechat/wechat-mock.repository';
import { BankMockController } from './bank/bank-mock.controller';
import { BankMockProcessor } from './bank/bank-mock.processor';
import { BankMockService } from './bank/bank-mock.service';
import { WechatMockController } from './wechat/wechat-mock.controller';
import { WechatMockNotifications } from './wechat/wechat-mock.notifications';
import { WechatMockProcessor } from './wechat/wechat-mock.processor';
import { WechatMockService } from './wechat/wechat-mock.service';
import { WechatMerchantKey } from '../payments/providers/wechat/wechat-merchant-key';
import { FaultsController } from './faults.controller';
import { FaultsRepository } from './faults.repository';
import { FaultsService } from './faults.service';
import { SandboxKeysRepository } from './sandbox-keys.repository';
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
        FaultsRepository,
        FaultsService,
        SandboxKeysRepository,
        SandboxUrls,
        PaypalMockService,
        PaypalMockOAuth,
        PaypalMockIdentity,
        PaypalMockPayouts,
        PaypalMockReports,
        PaypalMockReplays,
        PaypalMockWebhooks,
        PaypalMockDelivery,
        PaypalMockPaymentsRepository,
        PaypalMockPayoutsRepository,
        PaypalMockRepository,
        BankMockRepository,
        WechatMockRepository,
        BankMockService,
        WechatMockService,
        WechatMockNotifications,
        WechatMerchantKey,
        ...(options.workers ? [PaypalMockDeliveryProcessor, BankMockProcessor, WechatMockProcessor] : []),
      ],
      exports: [FaultsService, PaypalMockIdentity, WechatMockService],
    };
  }
}
