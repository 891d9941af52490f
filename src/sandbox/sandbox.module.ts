import { DynamicModule, Module } from '@nestjs/common';
import { PaypalMockController } from '../payments/providers/paypal/mock/paypal-mock.controller';
import { PaypalMockDeliveryProcessor } from '../payments/providers/paypal/mock/paypal-mock.delivery.processor';
import { PaypalMockIdentity } from '../payments/providers/paypal/mock/paypal-mock.identity';
import { PaypalMockPayouts } from '../payments/providers/paypal/mock/paypal-mock.payouts';
import { PaypalMockService } from '../payments/providers/paypal/mock/paypal-mock.service';
import { PaypalMockWebhooks } from '../payments/providers/paypal/mock/paypal-mock.webhooks';
import { FaultsController } from './faults.controller';
import { FaultsService } from './faults.service';

/**
 * The provider mocks and their fault injection. Imported only in sandbox mode, so in production none of
 * these routes exist; the webhook deliveries run where workers run.
 */
@Module({})
export class SandboxModule {
  static register(options: { workers: boolean }): DynamicModule {
    return {
      module: SandboxModule,
      controllers: [FaultsController, PaypalMockController],
      providers: [
        FaultsService,
        PaypalMockService,
        PaypalMockIdentity,
        PaypalMockPayouts,
        PaypalMockWebhooks,
        ...(options.workers ? [PaypalMockDeliveryProcessor] : []),
      ],
      exports: [FaultsService, PaypalMockIdentity],
    };
  }
}
