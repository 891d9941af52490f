import type { PaypalAuthorization, PaypalCapture } from './paypal.port';

/**
 * What reconciliation reads of PayPal, in USD cents: the records behind each step the books rely on, and the
 * account's payouts over a window (PayPal's Transaction Search), so a payout the books never heard of is found.
 * Reads only: nothing here moves money. A record PayPal does not have raises `PaypalApiError` with status 404.
 */
export interface PaypalRefund {
  refundId: string;
  status: string;
  amountUsd: bigint;
  /** The capture it refunds (from its `up` link). */
  captureId: string | null;
}

export interface PaypalPayoutItem {
  itemId: string;
  /** SUCCESS, PENDING, UNCLAIMED, RETURNED, FAILED, BLOCKED, REFUNDED, REVERSED… */
  status: string;
  amountUsd: bigint;
  feeUsd: bigint;
  senderItemId: string | null;
}

export interface PaypalPayoutBatch {
  batchId: string;
  batchStatus: string;
  senderBatchId: string | null;
  createdAt: Date | null;
  items: PaypalPayoutItem[];
}

/** One line of Transaction Search: for a payout (`T0001`), `referenceId` is its payout batch. */
export interface PaypalTransaction {
  transactionId: string;
  eventCode: string;
  referenceId: string | null;
  /** S (success), P (pending), V (reversed), D (denied). */
  status: string;
  amountUsd: bigint;
  initiatedAt: Date;
}

export interface PaypalReadPort {
  getAuthorization(authorizationId: string): Promise<PaypalAuthorization>;
  getCapture(captureId: string): Promise<PaypalCapture>;
  getRefund(refundId: string): Promise<PaypalRefund>;
  /** The batch with every item (one page of up to 1,000; the platform's batches hold one item each). */
  getPayoutBatchItems(batchId: string): Promise<PaypalPayoutBatch>;
  /** The account's transactions initiated in `[start, end]` (at most 31 days), of one event code, one page. */
  searchTransactions(input: {
    start: Date;
    end: Date;
    eventCode: string;
    page: number;
    pageSize: number;
  }): Promise<{ transactions: PaypalTransaction[]; totalPages: number }>;
}

export const PAYPAL_READS = Symbol('PAYPAL_READS');

/** PayPal's event code of a payout (Mass Payment) in Transaction Search. */
export const PAYOUT_EVENT_CODE = 'T0001';
/** Transaction Search takes windows of at most 31 days. */
export const SEARCH_WINDOW_MAX_MS = 31 * 24 * 60 * 60 * 1000;
