/**
 * What the platform needs of PayPal, in its own terms (USD cents). The REST adapter implements it against
 * PayPal or the sandbox mock alike; tests and later flows depend on this, never on PayPal's shapes.
 */
export interface PaypalOrder {
  orderId: string;
  status: 'CREATED' | 'APPROVED' | 'COMPLETED' | 'VOIDED' | string;
  approveUrl: string | null;
  amountUsd: bigint;
  payerEmail: string | null;
  authorizationId: string | null;
  /** The captures of the order's authorization, with PayPal's fee: how a capture whose answer was lost is found. */
  captures: PaypalCapture[];
  /** The refunds of those captures: how a refund whose answer was lost is found. */
  refunds: { refundId: string; captureId: string; status: string; amountUsd: bigint }[];
}

export interface PaypalAuthorization {
  authorizationId: string;
  status: 'CREATED' | 'CAPTURED' | 'PARTIALLY_CAPTURED' | 'VOIDED' | 'EXPIRED' | string;
  amountUsd: bigint;
  expiresAt: Date | null;
}

export interface PaypalCapture {
  captureId: string;
  status: string;
  amountUsd: bigint;
  paypalFeeUsd: bigint;
}

export interface PaypalPort {
  createOrder(input: {
    amountUsd: bigint;
    referenceId: string;
    requestId: string;
    returnUrl?: string;
    cancelUrl?: string;
  }): Promise<PaypalOrder>;
  getOrder(orderId: string): Promise<PaypalOrder>;
  authorizeOrder(orderId: string, requestId: string): Promise<PaypalOrder>;
  getAuthorization(authorizationId: string): Promise<PaypalAuthorization>;
  captureAuthorization(authorizationId: string, requestId: string, amountUsd?: bigint): Promise<PaypalCapture>;
  voidAuthorization(authorizationId: string, requestId: string): Promise<void>;
  refundCapture(captureId: string, requestId: string, amountUsd?: bigint): Promise<{ refundId: string; status: string }>;
  /** One payout to one receiver; `senderBatchId` makes a retry find the first batch instead of paying twice. */
  createPayout(input: { senderBatchId: string; receiverEmail: string; amountUsd: bigint; note: string }): Promise<PaypalPayout>;
  getPayoutBatch(batchId: string): Promise<PaypalPayout>;
}

export interface PaypalPayout {
  batchId: string;
  batchStatus: string;
  itemId: string | null;
  itemStatus: string | null;
  feeUsd: bigint;
}

export const PAYPAL = Symbol('PAYPAL');

/** A refusal or failure from PayPal, with PayPal's own name and first issue (`ORDER_NOT_APPROVED`, …). */
export class PaypalApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    readonly issue: string | null,
    message: string,
    /** The HATEOAS links of the refusal (a duplicate sender_batch_id links to the first batch). */
    readonly links: { href: string; rel: string }[] = [],
  ) {
    super(message);
    this.name = 'PaypalApiError';
  }

  /** 5xx, 429 and network failures may succeed when tried again; 4xx will not. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}
