import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
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

/**
 * The money of a trade, in USD cents. Funding puts a pending hold from provider clearing into the trade's
 * escrow; a confirmed payout posts the hold, moves it to the counterparty's payable and the fee, and clears
 * the payable; a confirmed refund voids the hold. Each entry kind happens once per trade (unique index).
 * Every method joins the caller's transaction, and first takes its locks in one order (`ledgerLockOrder`),
 * after the trade's row: callers that lock trades or users take those before calling here.
 */
@Injectable()
export class LedgerService {
  constructor(private readonly ledger: LedgerRepository) {}

  async holdEscrow(manager: EntityManager, trade: TradeAmounts): Promise<void> {
    const clearing = LEDGER_ACCOUNTS.clearing(trade.id);
    const escrow = LEDGER_ACCOUNTS.escrow(trade.id);
    await this.lock(manager, trade.id, [clearing, escrow], [clearing, escrow]);
    await this.ledger.transfer(manager, {
      tradeId: trade.id,
      kind: ENTRY.hold,
      phase: 'pending',
      debit: clearing.id,
      credit: escrow.id,
      amount: trade.amountUsd,
    });
  }

  /** The payout to the counterparty is confirmed: the hold posts, less the fee, and the payable it created is cleared. */
  async settleRelease(manager: EntityManager, trade: TradeAmounts): Promise<void> {
    await this.lockForPayout(manager, trade.id);
    const hold = await this.requireHold(manager, trade.id);
    await this.ledger.resolve(manager, trade.id, ENTRY.holdPosted, hold, hold.amount);
    await this.payCounterparty(manager, trade.id, trade.amountUsd, trade.feeUsd);
  }

  /**
   * An operator's split is settled: the hold posts in part (the counterparty's share) and the rest, the
   * traveler's share, is voided with it; the counterparty's share is paid out less its fee.
   */
  async settleSplit(manager: EntityManager, tradeId: string, counterpartyUsd: bigint, feeUsd: bigint): Promise<void> {
    await this.lockForPayout(manager, tradeId);
    const hold = await this.requireHold(manager, tradeId);
    await this.ledger.resolve(manager, tradeId, ENTRY.holdPosted, hold, counterpartyUsd);
    await this.payCounterparty(manager, tradeId, counterpartyUsd, feeUsd);
  }

  /** The locks of a payout from escrow: the hold's two accounts, the counterparty's payable and the fee revenue (both created). */
  private async lockForPayout(manager: EntityManager, tradeId: string): Promise<void> {
    const payable = LEDGER_ACCOUNTS.counterpartyPayable(tradeId);
    const fee = LEDGER_ACCOUNTS.feeRevenue(tradeId);
    await this.lock(manager, tradeId, [LEDGER_ACCOUNTS.clearing(tradeId), LEDGER_ACCOUNTS.escrow(tradeId), payable, fee], [payable, fee]);
  }

  /** Escrow → the counterparty's payable (less the fee) and the fee revenue; the payable cleared by the confirmed payout. */
  private async payCounterparty(manager: EntityManager, tradeId: string, grossUsd: bigint, feeUsd: bigint): Promise<void> {
    const escrow = LEDGER_ACCOUNTS.escrow(tradeId);
    const payable = LEDGER_ACCOUNTS.counterpartyPayable(tradeId);
    const fee = LEDGER_ACCOUNTS.feeRevenue(tradeId);
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId);
    const net = grossUsd - feeUsd;
    await this.move(manager, tradeId, ENTRY.toPayable, escrow, payable, net);
    if (feeUsd > 0n) {
      await this.move(manager, tradeId, ENTRY.fee, escrow, fee, feeUsd);
    }
    await this.move(manager, tradeId, ENTRY.payoutCleared, payable, clearing, net);
  }

  /**
   * A provider's fee (PayPal's on a capture or a payout) is the platform's cost: provider clearing pays it
   * into the fee expense account. It never changes what the parties pay or receive.
   */
  async bookProviderFee(manager: EntityManager, tradeId: string, kind: string, feeUsd: bigint): Promise<void> {
    if (feeUsd <= 0n) return;
    const expense = LEDGER_ACCOUNTS.providerFeeExpense(tradeId);
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId);
    await this.lock(manager, tradeId, [expense, clearing], [expense, clearing]);
    await this.move(manager, tradeId, kind, expense, clearing, feeUsd);
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
    await this.lock(manager, tradeId, [suspense, clearing]);
    await this.move(manager, tradeId, `suspense_bounced:${transferId}`, clearing, suspense, amount);
  }

  /** The refund is confirmed: an authorization hold is voided, so the traveler pays nothing. */
  async settleRefund(manager: EntityManager, trade: TradeAmounts): Promise<void> {
    await this.lock(manager, trade.id, [LEDGER_ACCOUNTS.clearing(trade.id), LEDGER_ACCOUNTS.escrow(trade.id)]);
    const hold = await this.requireHold(manager, trade.id);
    await this.ledger.resolve(manager, trade.id, ENTRY.holdVoided, hold, null);
  }

  /**
   * Money that really arrived (a bank transfer) went back to the traveler, confirmed by the bank: the hold
   * posts, escrow → the traveler's refund payable, cleared.
   */
  async settlePaidBackRefund(manager: EntityManager, trade: TradeAmounts): Promise<void> {
    const escrow = LEDGER_ACCOUNTS.escrow(trade.id);
    const payable = LEDGER_ACCOUNTS.travelerRefundPayable(trade.id);
    const clearing = LEDGER_ACCOUNTS.clearing(trade.id);
    await this.lock(manager, trade.id, [clearing, escrow, payable], [payable]);
    const hold = await this.requireHold(manager, trade.id);
    await this.ledger.resolve(manager, trade.id, ENTRY.holdPosted, hold, hold.amount);
    const amount = trade.amountUsd;
    await this.move(manager, trade.id, ENTRY.toRefundPayable, escrow, payable, amount);
    await this.move(manager, trade.id, ENTRY.refundCleared, payable, clearing, amount);
  }

  /** Bank money with nothing to fund goes into suspense, owed back to its sender; per transfer, once. */
  async toSuspense(manager: EntityManager, tradeId: string | null, transferId: string, amount: bigint): Promise<void> {
    const suspense = LEDGER_ACCOUNTS.suspense();
    // Money with no trade at all (an unknown reference) uses the first clearing shard.
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId ?? '00');
    await this.lock(manager, tradeId, [suspense, clearing], [suspense, clearing]);
    await this.move(manager, tradeId, suspenseEntry('in', transferId), clearing, suspense, amount);
  }

  /** The bank confirmed the return to the sender: out of suspense. */
  async fromSuspense(manager: EntityManager, tradeId: string | null, transferId: string, amount: bigint): Promise<void> {
    const suspense = LEDGER_ACCOUNTS.suspense();
    const clearing = LEDGER_ACCOUNTS.clearing(tradeId ?? '00');
    await this.lock(manager, tradeId, [suspense, clearing]);
    await this.move(manager, tradeId, suspenseEntry('out', transferId), suspense, clearing, amount);
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
    await this.lock(manager, tradeId, [payable, clearing], [payable, clearing]);
    await this.move(manager, tradeId, kind, clearing, payable, amount);
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
    await this.lock(manager, tradeId, [payable, clearing]);
    await this.move(manager, tradeId, kind, payable, clearing, amount);
  }

  /** A single-phase transfer of `amount` from `debit` to `credit`. */
  private async move(
    manager: EntityManager,
    tradeId: string | null,
    kind: string,
    debit: AccountRef,
    credit: AccountRef,
    amount: bigint,
  ): Promise<void> {
    await this.ledger.transfer(manager, { tradeId, kind, phase: 'single', debit: debit.id, credit: credit.id, amount });
  }

  /** An operation's locks, before it reads or moves anything: the trade's row, then its accounts in `ledgerLockOrder` (`create` made first if missing). */
  private async lock(manager: EntityManager, tradeId: string | null, accounts: AccountRef[], create: AccountRef[] = []): Promise<void> {
    await this.ledger.lockAccounts(manager, tradeId, ledgerLockOrder(accounts), ledgerLockOrder(create));
  }

  private async requireHold(manager: EntityManager, tradeId: string) {
    const hold = await this.ledger.pendingOf(manager, tradeId, ENTRY.hold);
    if (!hold) throw new Error(`Trade ${tradeId} has no escrow hold`);
    return hold;
  }
}
