import { Module } from '@nestjs/common';
import { PaypalMockController } from '../payments/providers/paypal/mock/paypal-mock.controller';
import { PaypalMockService } from '../payments/providers/paypal/mock/paypal-mock.service';
import { FaultsController } from './faults.controller';
import { FaultsService } from './faults.service';

/**
 * The provider mocks and their fault injection. Imported only in sandbox mode, so in production none of
 * these routes exist.
 */
@Module({
  controllers: [FaultsController, PaypalMockController],
  providers: [FaultsService, PaypalMockService],
  exports: [FaultsService],
})
export class SandboxModule {}
