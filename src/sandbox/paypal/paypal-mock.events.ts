/** The events the PayPal mock sends: their types, and an event as it is delivered. */

export type PaypalEventType =
  | 'CHECKOUT.ORDER.APPROVED'
  | 'PAYMENT.AUTHORIZATION.CREATED'
  | 'PAYMENT.AUTHORIZATION.VOIDED'
  | 'PAYMENT.CAPTURE.COMPLETED'
  | 'PAYMENT.CAPTURE.REFUNDED'
  | 'PAYMENT.PAYOUTSBATCH.SUCCESS'
  | 'PAYMENT.PAYOUTS-ITEM.SUCCEEDED'
  | 'PAYMENT.PAYOUTS-ITEM.UNCLAIMED'
  | 'PAYMENT.PAYOUTS-ITEM.RETURNED';

/** An event the mock sends, as it is delivered. */
export interface PaypalMockEvent {
  id: string;
  event_type: PaypalEventType;
  [field: string]: unknown;
}

/** What one delivery job carries: one event, or the events of one change due at the same time, sent at once (PayPal promises no order). */
export type PaypalDeliveryPayload = { url: string; certUrl: string } & ({ event: PaypalMockEvent } | { events: PaypalMockEvent[] });
