export const PARTY_REASONS = ['rmb_not_received', 'wrong_amount', 'payment_not_released', 'fraud_suspected', 'other'] as const;
export const DISPUTE_REASONS = [...PARTY_REASONS, 'verification_failed'] as const;
export type DisputeReason = (typeof DISPUTE_REASONS)[number];

export const DISPUTE_STATUSES = ['open', 'assigned', 'resolved'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];

export type DisputeOutcome = 'release' | 'refund' | 'split';

/** Limits on what the parties may put in a dispute; each refusal has its own code. */
export const STATEMENT_LIMITS = {
  textChars: 5000,
  attachmentsPerStatement: 10,
  attachmentBytes: 25 * 1024 * 1024,
  statementsPerParty: 50,
  contentTypes: ['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'application/pdf', 'text/plain'],
} as const;

export interface Attachment {
  /** Null once its statement's text is erased. */
  name: string | null;
  contentType: string;
  sizeBytes: number;
  sha256: string;
}

export interface Dispute {
  id: string;
  tradeId: string;
  openedBy: { kind: 'traveler' | 'counterparty' | 'system'; id: string | null };
  reason: DisputeReason;
  status: DisputeStatus;
  assignedTo: string | null;
  assignedAt: Date | null;
  outcome: DisputeOutcome | null;
  travelerUsd: bigint | null;
  counterpartyUsd: bigint | null;
  resolutionNote: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Statement {
  id: string;
  disputeId: string;
  author: { kind: 'traveler' | 'counterparty' | 'system'; id: string | null };
  /** Null once erased (its author deleted their account); the statement itself stays. */
  text: string | null;
  erased: boolean;
  attachments: Attachment[];
  createdAt: Date;
}
