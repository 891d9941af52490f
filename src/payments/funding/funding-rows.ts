/**
 * A trade's funding record (`trade_fundings`) as its row and as the service reads it: one mapping for every repository
 * that reads the record, whole or beside other rows (`fundingColumns` with a prefix).
 */
export interface FundingRecord {
  tradeId: string;
  provider: 'paypal' | 'bank_transfer';
  orderId: string | null;
  approveUrl: string | null;
  authorizationId: string | null;
  captureId: string | null;
  payoutBatchId: string | null;
  payoutItemId: string | null;
  bankReference: string | null;
  bankTransferId: string | null;
  refundId: string | null;
  /** 1 for the first payout; each operator retry of a returned payout is the next. */
  payoutAttempt: number;
  /** The current attempt's payout came back and was booked back to the counterparty's payable. */
  payoutReturned: boolean;
  /** The same for a bank refund (a return to the sender): 1 first, then each operator retry of a bounced one. */
  refundAttempt: number;
  refundReturned: boolean;
  /** The webhooks that asked for a funding check, counted; and the check one of them queued, while pending. */
  checkRequests: string;
  checkPendingJob: string | null;
}

export interface FundingRow {
  trade_id: string;
  provider: 'paypal' | 'bank_transfer';
  order_id: string | null;
  approve_url: string | null;
  authorization_id: string | null;
  capture_id: string | null;
  payout_batch_id: string | null;
  payout_item_id: string | null;
  bank_reference: string | null;
  bank_transfer_id: string | null;
  refund_id: string | null;
  payout_attempt: number;
  payout_returned: boolean;
  refund_attempt: number;
  refund_returned: boolean;
  check_requests: string;
  check_pending_job: string | null;
}

/** Every column of the record, as `FundingRow` names them. */
const FUNDING_COLUMNS: readonly (keyof FundingRow)[] = [
  'trade_id',
  'provider',
  'order_id',
  'approve_url',
  'authorization_id',
  'capture_id',
  'payout_batch_id',
  'payout_item_id',
  'bank_reference',
  'bank_transfer_id',
  'refund_id',
  'payout_attempt',
  'payout_returned',
  'refund_attempt',
  'refund_returned',
  'check_requests',
  'check_pending_job',
];

/** Every column of the record, unqualified: what a named statement lists where `*` would break its kept plan when a column is added. */
export const FUNDING_COLUMN_LIST = FUNDING_COLUMNS.join(', ');

/** The record's columns of the row aliased `alias`, each named `<prefix><column>` (beside another table's columns). */
export function fundingColumns(alias: string, prefix: string): string {
  return FUNDING_COLUMNS.map((column) => `${alias}.${column} AS ${prefix}${column}`).join(', ');
}

/** The record from its row, or from a row that carries its columns under `prefix` (`fundingColumns`). */
export function toFundingRecord(row: FundingRow): FundingRecord;
export function toFundingRecord(row: Record<string, unknown>, prefix: string): FundingRecord;
export function toFundingRecord(row: Record<string, unknown> | FundingRow, prefix = ''): FundingRecord {
  const r = (
    prefix ? Object.fromEntries(FUNDING_COLUMNS.map((column) => [column, (row as Record<string, unknown>)[prefix + column]])) : row
  ) as FundingRow;
  return {
    tradeId: r.trade_id,
    provider: r.provider,
    orderId: r.order_id,
    approveUrl: r.approve_url,
    authorizationId: r.authorization_id,
    captureId: r.capture_id,
    payoutBatchId: r.payout_batch_id,
    payoutItemId: r.payout_item_id,
    bankReference: r.bank_reference,
    bankTransferId: r.bank_transfer_id,
    refundId: r.refund_id,
    payoutAttempt: r.payout_attempt,
    payoutReturned: r.payout_returned,
    refundAttempt: r.refund_attempt,
    refundReturned: r.refund_returned,
    checkRequests: r.check_requests,
    checkPendingJob: r.check_pending_job,
  };
}
