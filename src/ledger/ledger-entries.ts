/** A pending transfer (an escrow hold) as read back to resolve it. */
export interface PendingTransfer {
  id: string;
  debitAccount: string;
  creditAccount: string;
  amount: bigint;
}

/**
 * One transfer of an operation: single-phase, a pending hold, or the resolution of a hold (`post` of `amount` of it,
 * the rest released, or `void` of all of it).
 */
export type LedgerEntry = Movement | Resolution;

interface Movement {
  kind: string;
  phase: 'single' | 'pending';
  debit: string;
  credit: string;
  amount: bigint;
}

interface Resolution {
  kind: string;
  phase: 'post' | 'void';
  pending: PendingTransfer;
  amount: bigint;
}

const isResolution = (entry: LedgerEntry): entry is Resolution => 'pending' in entry;

/** What an entry writes to `ledger_transfers`: a resolution names its hold's accounts. */
export interface TransferRow {
  kind: string;
  phase: LedgerEntry['phase'];
  pendingId: string | null;
  debit: string;
  credit: string;
  amount: bigint;
}

/** How an operation changes one account's four balances, summed over its entries. */
export interface BalanceChange {
  account: string;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

/** The rows an operation appends, checked: two accounts each, a hold posted up to its amount, nothing negative. */
export function transferRows(entries: LedgerEntry[]): TransferRow[] {
  return entries.map((entry) => {
    const row: TransferRow = isResolution(entry)
      ? {
          kind: entry.kind,
          phase: entry.phase,
          pendingId: entry.pending.id,
          debit: entry.pending.debitAccount,
          credit: entry.pending.creditAccount,
          amount: entry.phase === 'void' ? 0n : entry.amount,
        }
      : { kind: entry.kind, phase: entry.phase, pendingId: null, debit: entry.debit, credit: entry.credit, amount: entry.amount };
    if (row.debit === row.credit) throw new Error(`A transfer needs two accounts (${row.debit})`);
    if (row.amount < 0n) throw new Error(`A transfer cannot move a negative amount (${row.kind})`);
    if (isResolution(entry) && entry.amount > entry.pending.amount) throw new Error('A hold can only be posted up to its amount');
    return row;
  });
}

/**
 * The balance changes of an operation's entries, one per account in order of first appearance: a pending transfer
 * moves both sides' pending balances, a single-phase one their posted balances, and a resolution takes the whole hold
 * out of pending and puts what it posts (nothing for a void) into posted. One statement then updates each account
 * once (a row updated twice in one statement would keep only one of the changes).
 */
export function balanceChanges(entries: LedgerEntry[]): BalanceChange[] {
  const changes = new Map<string, BalanceChange>();
  const of = (account: string): BalanceChange => {
    let change = changes.get(account);
    if (!change) {
      change = { account, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
      changes.set(account, change);
    }
    return change;
  };
  for (const entry of entries) {
    if (!isResolution(entry) && entry.phase === 'pending') {
      of(entry.debit).debitsPending += entry.amount;
      of(entry.credit).creditsPending += entry.amount;
    } else if (!isResolution(entry)) {
      of(entry.debit).debitsPosted += entry.amount;
      of(entry.credit).creditsPosted += entry.amount;
    } else {
      const posted = entry.phase === 'void' ? 0n : entry.amount;
      const debit = of(entry.pending.debitAccount);
      const credit = of(entry.pending.creditAccount);
      debit.debitsPending -= entry.pending.amount;
      debit.debitsPosted += posted;
      credit.creditsPending -= entry.pending.amount;
      credit.creditsPosted += posted;
    }
  }
  return [...changes.values()];
}
