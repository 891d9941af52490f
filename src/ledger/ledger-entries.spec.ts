import { balanceChanges, LedgerEntry, transferRows } from './ledger-entries';

const hold = { id: 'h1', debitAccount: 'provider_clearing#1', creditAccount: 'escrow:t', amount: 1000n };

describe('balanceChanges', () => {
  it('sums each account once: pending to pending, single to posted, a post takes the whole hold out of pending', () => {
    const entries: LedgerEntry[] = [
      { kind: 'escrow_hold_posted', phase: 'post', pending: hold, amount: 1000n },
      { kind: 'to_payable', phase: 'single', debit: 'escrow:t', credit: 'payable:t', amount: 990n },
      { kind: 'fee', phase: 'single', debit: 'escrow:t', credit: 'fee_revenue#1', amount: 10n },
      { kind: 'cleared', phase: 'single', debit: 'payable:t', credit: 'provider_clearing#1', amount: 990n },
    ];
    expect(balanceChanges(entries)).toEqual([
      { account: 'provider_clearing#1', debitsPending: -1000n, debitsPosted: 1000n, creditsPending: 0n, creditsPosted: 990n },
      { account: 'escrow:t', debitsPending: 0n, debitsPosted: 1000n, creditsPending: -1000n, creditsPosted: 1000n },
      { account: 'payable:t', debitsPending: 0n, debitsPosted: 990n, creditsPending: 0n, creditsPosted: 990n },
      { account: 'fee_revenue#1', debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 10n },
    ]);
  });

  it('moves pending balances for a hold, and releases a part posted or a void', () => {
    expect(balanceChanges([{ kind: 'escrow_hold', phase: 'pending', debit: 'c', credit: 'e', amount: 5n }])).toEqual([
      { account: 'c', debitsPending: 5n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n },
      { account: 'e', debitsPending: 0n, debitsPosted: 0n, creditsPending: 5n, creditsPosted: 0n },
    ]);
    expect(balanceChanges([{ kind: 'escrow_hold_posted', phase: 'post', pending: hold, amount: 600n }])[0]).toEqual({
      account: 'provider_clearing#1',
      debitsPending: -1000n,
      debitsPosted: 600n,
      creditsPending: 0n,
      creditsPosted: 0n,
    });
    expect(balanceChanges([{ kind: 'escrow_hold_voided', phase: 'void', pending: hold, amount: 0n }])[1]).toEqual({
      account: 'escrow:t',
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: -1000n,
      creditsPosted: 0n,
    });
  });
});

describe('transferRows', () => {
  it('writes a resolution with its hold and its accounts, a void as zero', () => {
    expect(transferRows([{ kind: 'escrow_hold_voided', phase: 'void', pending: hold, amount: 0n }])).toEqual([
      { kind: 'escrow_hold_voided', phase: 'void', pendingId: 'h1', debit: 'provider_clearing#1', credit: 'escrow:t', amount: 0n },
    ]);
  });

  it('refuses a transfer between an account and itself, a negative amount and a post beyond its hold', () => {
    expect(() => transferRows([{ kind: 'k', phase: 'single', debit: 'a', credit: 'a', amount: 1n }])).toThrow(/two accounts/);
    expect(() => transferRows([{ kind: 'k', phase: 'single', debit: 'a', credit: 'b', amount: -1n }])).toThrow(/negative/);
    expect(() => transferRows([{ kind: 'k', phase: 'post', pending: hold, amount: 1001n }])).toThrow(/up to its amount/);
  });
});
