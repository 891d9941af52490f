import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { LedgerEntry, PendingTransfer } from './ledger-entries';
import { AccountRef, LedgerRepository } from './ledger.repository';

/**
 * Platform-wide accounts (provider clearing, fee revenue) are split into shards, picked by trade, so
 * settlements of different trades do not all wait on one row's lock. Their balance is the sum of the shards.
 */
export const PLATFORM_SHARDS = 16;

export function shardOf(tradeId: string): number {
  return Number.parseInt(tradeId.slice(0, 2), 16) % PLATFORM_SHARDS;
}

export const LEDGER_ACCOUNTS = {
  clearing: (tradeId: string): AccountRef => ({ id: `provider_clearing#${shardOf(tradeId)}`, kind: 'provider_clearing' }),
  feeRevenue: (tradeId: string): AccountRef => ({ id: `fee_revenue#${shardOf(tradeId)}`, kind: 'fee_revenue' }),
  providerFeeExpense: (tradeId: string): AccountRef => ({ id: `provider_fee_expense#${shardOf(tradeId)}`, kind: 'provider_fee_expense' }),
  escrow: (tradeId: string): AccountRef => ({ id: `escrow:${tradeId}`, kind: 'escrow', tradeId }),
  counterpartyPayable: (tradeId: string): AccountRef => ({ id: `counterparty_payable:${tradeId}`, kind: 'counterparty_payable', tradeId }),
  travelerRefundPayable: (tradeId: string): AccountRef => ({
    id: `traveler_refund_payable:${tradeId}`,
    kind: 'traveler_refund_payable',
    tradeId,
  }),
  /** Money that reached us without a trade to fund (unknown reference, too little, too late, too much): owed back to its sender. */
  suspense: (): AccountRef => ({ id: 'suspense', kind: 'suspense' }),
};

export const ENTRY = {
  hold: 'escrow_hold',
  holdPosted: 'escrow_hold_posted',
  holdVoided: 'escrow_hold_voided',
  toPayable: 'escrow_to_counterparty_payable',
  fee: 'escrow_to_fee_revenue',
  payoutCleared: 'counterparty_payable_cleared',
  captureFee: 'provider_capture_fee',
  payoutFee: 'provider_payout_fee',
  toRefundPayable: 'escrow_to_traveler_refund_payable',
  refundCleared: 'traveler_refund_payable_cleared',
} as const;

/** Entries of a payout paid again carry its attempt (the first payout's entries keep their plain kinds). */
type PayableOf = (tradeId: string) => AccountRef;

export const payoutAttemptEntry = (kind: string, attempt: number): string => (attempt === 1 ? kind : `${kind}:${attempt}`);

/** Suspense entries are per incoming bank transfer (a trade may receive several), so their kinds carry its id. */
export const suspenseEntry = (direction: 'in' | 'out', transferId: string): string => `suspense_${direction}:${transferId}`;

/**
 * The one order of ledger locks, in every transaction: the provider clearing shards first, then every other
 * account by its id. Every ledger operation moves its trade's clearing shard, so that row queues a shard's
 * ledger work before any other ledger row is taken: however a transaction strings operations together, it
 * never holds one of them while waiting for a row another transaction took first.
 */
export function ledgerLockOrder<T extends { id: string }>(accounts: T[]): T[] {
  const unique = [...new Map(accounts.map((a) => [a.id, a])).values()];
  const rank = (id: string) => (id.startsWith('provider_clearing#') ? 0 : 1);
  return unique.sort((a, b) => rank(a.id) - rank(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface TradeAmounts {
  id: string;
  amountUsd: bigint;
  feeUsd: bigint;
}

/** A provider's fee on a capture or a payout, booked with the operation it came with. */
export interface ProviderFee {
  kind: string;
  feeUsd: bigint;
}

/**
 * One ledger operation: the accounts it moves (all locked, in `ledgerLockOrder`), those it creates if missing, whether
 * it resolves the trade's escrow hold, and its entries (given the hold when it resolves one).
 */
interface Operation {
  accounts: AccountRef[];
  create?: AccountRef[];
  resolvesHold?: boolean;
  entries: (hold: PendingTransfer) => LedgerEntry[];
}

/**
 * The money of a trade, in USD cents. Funding puts a pending hold from provider clearing into the trade's
 * escrow; a confirmed payout posts the hold, moves it to the counterparty's payable and the fee, and clears
 * the payable; a confirmed refund voids the hold. Each entry kind happens once per trade (unique index).
 * Every method joins the caller's transaction and is two statements (`LedgerRepository.prepare`, `post`): the trade's
 * row, the accounts it creates and the hold it resolves; then its accounts locked in one order (`ledgerLockOrder`)
 * with its transfers. Callers that lock trades or users take those before calling here.
 */
@Injectable()
export class LedgerService {
  constructor(private readonly ledger: LedgerRepository) {}

  async holdEscrow(manager: EntityManager, trade: TradeAmounts): Promise<void> {
    const clearing = LEDGER_ACCOUNTS.clearing(trade.id);
    const escrow = LEDGER_ACCOUNTS.escrow(trade.id);
    await this.run(manager, trade.id, {
      accounts: [clearing, escrow],
      create: [clearing, escrow],
      entries: () => [{ kind: ENTRY.hold, phase: 'pending', debit: clearing.id, credit: escrow.id, amount: trade.amountUsd }],
    });
  }

  /**
   * The payout to the counterparty is confirmed: the hold posts, less the fee, and the payable it created is cleared;
   * PayPal's fee on the payout (`payoutFee`), when there is one, is booked in the same operation.
   */
  async settleRelease(manager: EntityManager, trade: TradeAmounts, payoutFee?: ProviderFee): Promise<void> {
    await this.run(manager, trade.id, this.payout(trade.id, 'all', trade.amountUsd, trade.feeUsd, payoutFee));
  }

  /**
   * An operator's split is settled: the hold posts in part (the counterparty's share) and the rest, the
   * traveler's share, is voided with it; the counterparty's share is paid out less its fee (and PayPal's fee on that
   * payout booked with it).
   */
  async settleSplit(
    manager: EntityManager,
    tradeId: string,
    counterpartyUsd: bigint,
    feeUsd: bigint,
    payoutFee?: ProviderFee,
  ): Promise<void> {
    await this.run(manager, tradeId, this.payout(tradeId, counterpartyUsd, counterpartyUsd, feeUsd, payoutFee));
  }

  /**
   * A payout from escrow: the hold posted (all of it, or `posted`), escrow → the counterparty's payable (less the fee)
   * and the fee revenue, the payable cleared by the confirmed payout, and a provider's fee on it.
   */
  private payout(tradeId: string, posted: bigint | 'all', grossUsd: bigint, feeUsd: bigint, providerFee?: ProviderFee): Operation {
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId);
    const escrow = LEDGER_ACCOUNTS.escrow(tradeId);
    const payable = LEDGER_ACCOUNTS.counterpartyPayable(tradeId);
    const fee = LEDGER_ACCOUNTS.feeRevenue(tradeId);
    const expense = LEDGER_ACCOUNTS.providerFeeExpense(tradeId);
    const booksProviderFee = providerFee !== undefined && providerFee.feeUsd > 0n;
    const net = grossUsd - feeUsd;
    return {
      accounts: [clearing, escrow, payable, fee, ...(booksProviderFee ? [expense] : [])],
      create: [payable, fee, ...(booksProviderFee ? [expense] : [])],
      resolvesHold: true,
      entries: (hold) => [
        { kind: ENTRY.holdPosted, phase: 'post', pending: hold, amount: posted === 'all' ? hold.amount : posted },
        { kind: ENTRY.toPayable, phase: 'single', debit: escrow.id, credit: payable.id, amount: net },
        ...(feeUsd > 0n ? [{ kind: ENTRY.fee, phase: 'single' as const, debit: escrow.id, credit: fee.id, amount: feeUsd }] : []),
        { kind: ENTRY.payoutCleared, phase: 'single', debit: payable.id, credit: clearing.id, amount: net },
        ...(booksProviderFee
          ? [{ kind: providerFee.kind, phase: 'single' as const, debit: expense.id, credit: clearing.id, amount: providerFee.feeUsd }]
          : []),
      ],
    };
  }

  /**
   * A provider's fee (PayPal's on a capture or a payout) is the platform's cost: provider clearing pays it
   * into the fee expense account. It never changes what the parties pay or receive.
   */
  async bookProviderFee(manager: EntityManager, tradeId: string, kind: string, feeUsd: bigint): Promise<void> {
    if (feeUsd <= 0n) return;
    const expense = LEDGER_ACCOUNTS.providerFeeExpense(tradeId);
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId);
    await this.run(manager, tradeId, {
      accounts: [expense, clearing],
      create: [expense, clearing],
      entries: () => [{ kind, phase: 'single', debit: expense.id, credit: clearing.id, amount: feeUsd }],
    });
  }

  /**
   * A payout came back (PayPal returned it unclaimed) after the trade ended: the money is ours again and owed
   * to the counterparty, so their payable reopens until a retry pays it. Per attempt, once.
   */
  async payoutReturned(manager: EntityManager, tradeId: string, attempt: number, netUsd: bigint): Promise<void> {
    await this.reopenPayable(manager, tradeId, LEDGER_ACCOUNTS.counterpartyPayable, 'payout_returned', attempt, netUsd);
  }

  async payoutRepaidAlready(tradeId: string, attempt: number, manager?: EntityManager): Promise<boolean> {
    return this.ledger.hasEntry(tradeId, payoutAttemptEntry(ENTRY.payoutCleared, attempt), manager);
  }

  /** A returned payout paid again (attempt 2 and on): the reopened payable is cleared. */
  async payoutRepaid(manager: EntityManager, tradeId: string, attempt: number, netUsd: bigint): Promise<void> {
    await this.clearPayable(manager, tradeId, LEDGER_ACCOUNTS.counterpartyPayable, ENTRY.payoutCleared, attempt, netUsd);
  }

  /** A bank refund the traveler's bank sent back: the money is ours again, owed to the traveler. Per attempt, once. */
  async refundReturned(manager: EntityManager, tradeId: string, attempt: number, amountUsd: bigint): Promise<void> {
    await this.reopenPayable(manager, tradeId, LEDGER_ACCOUNTS.travelerRefundPayable, 'refund_returned', attempt, amountUsd);
  }

  async refundRepaidAlready(tradeId: string, attempt: number, manager?: EntityManager): Promise<boolean> {
    return this.ledger.hasEntry(tradeId, payoutAttemptEntry(ENTRY.refundCleared, attempt), manager);
  }

  /** A bounced bank refund sent again (attempt 2 and on) and settled: the traveler's refund payable is cleared. */
  async refundRepaid(manager: EntityManager, tradeId: string, attempt: number, amountUsd: bigint): Promise<void> {
    await this.clearPayable(manager, tradeId, LEDGER_ACCOUNTS.travelerRefundPayable, ENTRY.refundCleared, attempt, amountUsd);
  }

  /** Suspense sent back that the sender's bank returned: in suspense again (kept for operators). */
  async suspenseBounced(manager: EntityManager, tradeId: string | null, transferId: string, amount: bigint): Promise<void> {
    const suspense = LEDGER_ACCOUNTS.suspense();
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId ?? '00');
    await this.run(manager, tradeId, {
      accounts: [suspense, clearing],
      entries: () => [{ kind: `suspense_bounced:${transferId}`, phase: 'single', debit: clearing.id, credit: suspense.id, amount }],
    });
  }

  /** The refund is confirmed: an authorization hold is voided, so the traveler pays nothing. */
  async settleRefund(manager: EntityManager, trade: TradeAmounts): Promise<void> {
    await this.run(manager, trade.id, {
      accounts: [LEDGER_ACCOUNTS.clearing(trade.id), LEDGER_ACCOUNTS.escrow(trade.id)],
      resolvesHold: true,
      entries: (hold) => [{ kind: ENTRY.holdVoided, phase: 'void', pending: hold, amount: 0n }],
    });
  }

  /**
   * Money that really arrived (a bank transfer) went back to the traveler, confirmed by the bank: the hold
   * posts, escrow → the traveler's refund payable, cleared.
   */
  async settlePaidBackRefund(manager: EntityManager, trade: TradeAmounts): Promise<void> {
    const escrow = LEDGER_ACCOUNTS.escrow(trade.id);
    const payable = LEDGER_ACCOUNTS.travelerRefundPayable(trade.id);
    const clearing = LEDGER_ACCOUNTS.clearing(trade.id);
    const amount = trade.amountUsd;
    await this.run(manager, trade.id, {
      accounts: [clearing, escrow, payable],
      create: [payable],
      resolvesHold: true,
      entries: (hold) => [
        { kind: ENTRY.holdPosted, phase: 'post', pending: hold, amount: hold.amount },
        { kind: ENTRY.toRefundPayable, phase: 'single', debit: escrow.id, credit: payable.id, amount },
        { kind: ENTRY.refundCleared, phase: 'single', debit: payable.id, credit: clearing.id, amount },
      ],
    });
  }

  /** Bank money with nothing to fund goes into suspense, owed back to its sender; per transfer, once. */
  async toSuspense(manager: EntityManager, tradeId: string | null, transferId: string, amount: bigint): Promise<void> {
    const suspense = LEDGER_ACCOUNTS.suspense();
    // Money with no trade at all (an unknown reference) uses the first clearing shard.
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId ?? '00');
    await this.run(manager, tradeId, {
      accounts: [suspense, clearing],
      create: [suspense, clearing],
      entries: () => [{ kind: suspenseEntry('in', transferId), phase: 'single', debit: clearing.id, credit: suspense.id, amount }],
    });
  }

  /** The bank confirmed the return to the sender: out of suspense. */
  async fromSuspense(manager: EntityManager, tradeId: string | null, transferId: string, amount: bigint): Promise<void> {
    const suspense = LEDGER_ACCOUNTS.suspense();
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId ?? '00');
    await this.run(manager, tradeId, {
      accounts: [suspense, clearing],
      entries: () => [{ kind: suspenseEntry('out', transferId), phase: 'single', debit: suspense.id, credit: clearing.id, amount }],
    });
  }

  /** Money paid out came back (per attempt, once): it is in clearing again, and owed once more on the payable. */
  private async reopenPayable(
    manager: EntityManager,
    tradeId: string,
    payableOf: PayableOf,
    entry: string,
    attempt: number,
    amount: bigint,
  ) {
    const [payable, kind] = [payableOf(tradeId), payoutAttemptEntry(entry, attempt)];
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId);
    await this.run(manager, tradeId, {
      accounts: [payable, clearing],
      create: [payable, clearing],
      entries: () => [{ kind, phase: 'single', debit: clearing.id, credit: payable.id, amount }],
    });
  }

  /** A reopened payable paid again: it is cleared. */
  private async clearPayable(
    manager: EntityManager,
    tradeId: string,
    payableOf: PayableOf,
    entry: string,
    attempt: number,
    amount: bigint,
  ) {
    const [payable, kind] = [payableOf(tradeId), payoutAttemptEntry(entry, attempt)];
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId);
    await this.run(manager, tradeId, {
      accounts: [payable, clearing],
      entries: () => [{ kind, phase: 'single', debit: payable.id, credit: clearing.id, amount }],
    });
  }

  /**
   * An operation in its two statements: the trade's row, the accounts it creates and the hold it resolves; then its
   * accounts locked in `ledgerLockOrder` with its transfers and their balances.
   */
  private async run(manager: EntityManager, tradeId: string | null, operation: Operation): Promise<void> {
    const hold = await this.ledger.prepare(
      manager,
      tradeId,
      ledgerLockOrder(operation.create ?? []),
      operation.resolvesHold ? ENTRY.hold : null,
    );
    if (operation.resolvesHold && !hold) throw new Error(`Trade ${tradeId} has no escrow hold`);
    // A `hold` is only read by an operation that resolves one (checked just above).
    await this.ledger.post(manager, tradeId, ledgerLockOrder(operation.accounts), operation.entries(hold!));
  }
}
