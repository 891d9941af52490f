/** What the platform needs of its bank, in its own terms (USD cents). The HTTP adapter speaks to the bank or its mock. */
export interface BankTransfer {
  transferId: string;
  direction: 'incoming' | 'return';
  reference: string | null;
  amountUsd: bigint;
  /** `returned`: a return that settled and was then sent back by the receiving bank (a closed account). */
  status: 'pending' | 'settled' | 'failed' | 'returned';
  /** For a return: the incoming transfer it sends back. */
  returnsTransferId: string | null;
  /** When it settled, as far as the bank says. */
  settledAt?: Date | null;
}

export interface BankPort {
  getTransfer(transferId: string): Promise<BankTransfer>;
  /** Incoming transfers that carry this reference, oldest first. */
  incomingByReference(reference: string): Promise<BankTransfer[]>;
  /** Incoming transfers settled in `[from, to]`, oldest first, one page: what reached the account, for reconciliation. */
  settledIncoming(input: { from: Date; to: Date; page: number; limit: number }): Promise<{ transfers: BankTransfer[]; hasMore: boolean }>;
  /** Sends `amountUsd` of an incoming transfer back to its sender; the same `requestId` finds the first return. */
  returnTransfer(input: { transferId: string; amountUsd: bigint; requestId: string }): Promise<BankTransfer>;
}

export const BANK = Symbol('BANK');

export class BankApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BankApiError';
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}
