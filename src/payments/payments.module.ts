import { Module } from '@nestjs/common';
import { PAYPAL } from './providers/paypal/paypal.port';
import { PaypalRestClient } from './providers/paypal/paypal-rest.client';
import { PaypalWebhookVerifier } from './providers/paypal/paypal-webhook.verifier';

/** The provider adapters behind their ports. The funding and settlement flows come on top of these. */
@Module({
  providers: [PaypalRestClient, { provide: PAYPAL, useExisting: PaypalRestClient }, PaypalWebhookVerifier],
  exports: [PAYPAL, PaypalWebhookVerifier],
})
export class PaymentsModule {}
