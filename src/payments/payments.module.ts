import { Module } from '@nestjs/common';
import { PAYPAL } from './providers/paypal/paypal.port';
import { PaypalRestClient } from './providers/paypal/paypal-rest.client';

/** The provider adapters behind their ports. The funding and settlement flows come on top of these. */
@Module({
  providers: [PaypalRestClient, { provide: PAYPAL, useExisting: PaypalRestClient }],
  exports: [PAYPAL],
})
export class PaymentsModule {}
