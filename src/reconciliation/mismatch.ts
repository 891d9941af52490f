/**
 * What reconciliation can find, named by what disagrees. `ledger` and `provider` say what each side holds
 * (amounts as decimal strings); a side with no record is null.
 */
export const MISMATCH = {
  /** The provider paid out (a payout batch exists and went through) but the books have no payout for it. */
  payoutUnknownToLedger: 'payout_unknown_to_ledger',
  /** The books rely on a provider record (payout, capture, refund, return, authorization) the provider does not have. */
  ledgerEntryUnknownToProvider: 'ledger_entry_unknown_to_provider',
  payoutAmountMismatch: 'payout_amount_mismatch',
  payoutFeeMismatch: 'payout_fee_mismatch',
  /** PayPal returned or failed the payout item, and the books have not booked it back. */
  payoutReturnedNotBooked: 'payout_returned_not_booked',
  authorizationAmountMismatch: 'authorization_amount_mismatch',
  /** The books hold the authorization, but PayPal voided it or let it expire. */
  authorizationLost: 'authorization_lost',
  /** The books voided the hold, and PayPal still holds (or captured) the authorization. */
  voidMissing: 'void_missing',
  /** PayPal captured the authorization, and the books know no capture. */
  captureUnknownToLedger: 'capture_unknown_to_ledger',
  captureAmountMismatch: 'capture_amount_mismatch',
  captureFeeMismatch: 'capture_fee_mismatch',
  /** The trade ended refunded (or split) and no refund or return is recorded, or the provider's is not complete. */
  refundMissing: 'refund_missing',
  refundAmountMismatch: 'refund_amount_mismatch',
  /** A settled incoming bank transfer with the trade's reference that the books never decided. */
  bankIncomingUnknownToLedger: 'bank_incoming_unknown_to_ledger',
  bankIncomingAmountMismatch: 'bank_incoming_amount_mismatch',
  /** A return (refund or suspense) the bank refused or that bounced, not booked back. */
  bankReturnBouncedNotBooked: 'bank_return_bounced_not_booked',
  /** Suspense the bank says went back, still in suspense in the books. */
  suspenseReturnNotBooked: 'suspense_return_not_booked',
  /** The trade's WeChat transfer is unknown at WeChat, not SUCCESS, or for another amount. */
  wechatTransferMismatch: 'wechat_transfer_mismatch',
  /** A trade settling for longer than the bound (SPEC.md: nothing waits on a provider silently). */
  settlementOverdue: 'settlement_overdue',
  feeRevenueMismatch: 'fee_revenue_mismatch',
  suspenseMismatch: 'suspense_mismatch',
  payablesMismatch: 'payables_mismatch',
} as const;

export type MismatchKind = (typeof MISMATCH)[keyof typeof MISMATCH];

export const PLATFORM_SUBJECT = 'platform';
export const batchSubject = (batchId: string) => `paypal-batch:${batchId}`;
export const bankTransferSubject = (transferId: string) => `bank-transfer:${transferId}`;

export interface Finding {
  kind: MismatchKind;
  /** The trade id, `platform`, `paypal-batch:<id>` or `bank-transfer:<id>`. */
  subject: string;
  tradeId: string | null;
  ledger: Record<string, unknown> | null;
  provider: Record<string, unknown> | null;
  detail: string;
}

/** What a search of a provider's own records turned up that no trade owns, and how far it got. */
export interface ProviderSearchResult {
  /** Found with no trade of ours to own them. */
  orphans: Finding[];
  /** The subjects of the orphans looked at this run (resolved if they are gone or the books took them since). */
  orphanSubjects: string[];
  searchedUntil: Date;
}

/** One trade as the books have it: the trade, its provider ids, its ledger entries by kind, its incoming bank transfers. */
export interface TradeFacts {
  id: string;
  state: string;
  amountUsd: bigint;
  amountCny: bigint;
  feeUsd: bigint;
  paymentMethod: 'paypal' | 'bank_transfer';
  splitTravelerUsd: bigint | null;
  splitCounterpartyUsd: bigint | null;
  wechatTransferId: string | null;
  /** The trade went through a dispute: an operator decided where its money goes, whatever WeChat shows. */
  decidedByOperator: boolean;
  /** The traveler confirmed the RMB arrived: their word released it, whatever transfer the counterparty reported. */
  releasedOnTravelerWord: boolean;
  updatedAt: Date;
  funding: {
    provider: 'paypal' | 'bank_transfer';
    authorizationId: string | null;
    captureId: string | null;
    payoutBatchId: string | null;
    bankReference: string | null;
    bankTransferId: string | null;
    refundId: string | null;
    payoutAttempt: number;
    refundAttempt: number;
  } | null;
  /** Amount of each ledger entry kind of the trade (each kind is unique per trade). */
  entries: Map<string, bigint>;
  incoming: {
    transferId: string;
    amountUsd: bigint;
    suspenseUsd: bigint;
    returnId: string | null;
    returnedAt: Date | null;
    bouncedAt: Date | null;
    returnFailedAt: Date | null;
  }[];
}

/** What one trade's check concluded. `watch` keeps it checked every run while a provider outcome is not final. */
export interface TradeCheck {
  findings: Finding[];
  watch: string | null;
  /** A provider could not answer (other than "no such record"): nothing is concluded for this trade this run. */
  inconclusive: boolean;
}
