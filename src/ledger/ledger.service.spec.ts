import type { EntityManager } from 'typeorm';
import { LedgerEntry, PendingTransfer, transferRows } from './ledger-entries';
import type { AccountRef, LedgerRepository } from './ledger.repository';
import { ENTRY, LEDGER_ACCOUNTS, LedgerService, ledgerLockOrder, PLATFORM_SHARDS, shardOf } from './ledger.service';

describe('shardOf', () => {
  it('spreads trades over the platform shards, the same shard for the same trade', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 256; i += 1) {
      const id = `${i.toString(16).padStart(2, '0')}000000-0000-4000-8000-000000000000`;
      const shard = shardOf(id);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(PLATFORM_SHARDS);
      expect(shardOf(id)).toBe(shard);
      seen.add(shard);
    }
    expect(seen.size).toBe(PLATFORM_SHARDS);
  });
});

describe('ledgerLockOrder', () => {
  it('puts the provider clearing shards first, then every other account by id, each once', () => {
    const ids = [
      'suspense',
      'traveler_refund_payable:7',
      'provider_fee_expense#3',
      'escrow:7',
      'provider_clearing#3',
      'fee_revenue#3',
      'counterparty_payable:7',
      'escrow:7',
    ];
    expect(ledgerLockOrder(ids.map((id) => ({ id }))).map((a) => a.id)).toEqual([
      'provider_clearing#3',
      'counterparty_payable:7',
      'escrow:7',
      'fee_revenue#3',
      'provider_fee_expense#3',
      'suspense',
      'traveler_refund_payable:7',
    ]);
  });
});

/** Records what each ledger operation asks of the repository, in order. */
class RecordingRepository {
  calls: { op: 'prepare' | 'post'; tradeId: string | null; accounts: string[]; moved: string[]; kinds: string[] }[] = [];
  async prepare(_m: unknown, tradeId: string | null, create: AccountRef[], holdKind: string | null): Promise<PendingTransfer | null> {
    this.calls.push({ op: 'prepare', tradeId, accounts: create.map((a) => a.id), moved: [], kinds: [] });
    return holdKind
      ? {
          id: 'hold',
          debitAccount: LEDGER_ACCOUNTS.clearing(tradeId!).id,
          creditAccount: LEDGER_ACCOUNTS.escrow(tradeId!).id,
          amount: 1000n,
        }
      : null;
  }
  async post(_m: unknown, tradeId: string | null, ordered: AccountRef[], entries: LedgerEntry[]) {
    const moved = transferRows(entries).flatMap((t) => [t.debit, t.credit]);
    this.calls.push({ op: 'post', tradeId, accounts: ordered.map((a) => a.id), moved, kinds: entries.map((e) => e.kind) });
  }
}

describe('LedgerService lock order', () => {
  const trade = { id: 'a7000000-0000-4000-8000-000000000000', amountUsd: 1000n, feeUsd: 10n };
  const m = {} as EntityManager;
  const operations: [string, (ledger: LedgerService) => Promise<void>][] = [
    ['holdEscrow', (l) => l.holdEscrow(m, trade)],
    ['settleRelease', (l) => l.settleRelease(m, trade)],
    ['settleRelease with the payout fee', (l) => l.settleRelease(m, trade, { kind: ENTRY.payoutFee, feeUsd: 35n })],
    ['settleSplit', (l) => l.settleSplit(m, trade.id, 600n, 6n)],
    ['settleSplit with the payout fee', (l) => l.settleSplit(m, trade.id, 600n, 6n, { kind: ENTRY.payoutFee, feeUsd: 35n })],
    ['settleRefund', (l) => l.settleRefund(m, trade)],
    ['settlePaidBackRefund', (l) => l.settlePaidBackRefund(m, trade)],
    ['bookProviderFee', (l) => l.bookProviderFee(m, trade.id, ENTRY.payoutFee, 35n)],
    ['payoutReturned', (l) => l.payoutReturned(m, trade.id, 1, 990n)],
    ['payoutRepaid', (l) => l.payoutRepaid(m, trade.id, 2, 990n)],
    ['refundReturned', (l) => l.refundReturned(m, trade.id, 1, 1000n)],
    ['refundRepaid', (l) => l.refundRepaid(m, trade.id, 2, 1000n)],
    ['toSuspense', (l) => l.toSuspense(m, trade.id, 'BT1', 5n)],
    ['fromSuspense', (l) => l.fromSuspense(m, trade.id, 'BT1', 5n)],
    ['suspenseBounced', (l) => l.suspenseBounced(m, trade.id, 'BT1', 5n)],
    ['toSuspense without a trade', (l) => l.toSuspense(m, null, 'BT2', 5n)],
  ];

  it.each(operations)(
    '%s takes the trade first, then locks its clearing shard first and the rest by id with its transfers',
    async (name, run) => {
      const repository = new RecordingRepository();
      await run(new LedgerService(repository as unknown as LedgerRepository));
      const tradeId = name.endsWith('without a trade') ? null : trade.id;
      // Two statements: the trade and what it creates and reads, then the locks with the transfers.
      expect(repository.calls.map((c) => c.op)).toEqual(['prepare', 'post']);
      const [prepare, post] = repository.calls;
      expect(prepare.tradeId).toBe(tradeId);
      expect(prepare.accounts).toEqual(ledgerLockOrder(prepare.accounts.map((id) => ({ id }))).map((a) => a.id));
      expect(post.tradeId).toBe(tradeId);
      expect(post.accounts[0]).toMatch(/^provider_clearing#\d+$/);
      expect(post.accounts).toEqual(ledgerLockOrder(post.accounts.map((id) => ({ id }))).map((a) => a.id));
      // Nothing moved that it did not lock, and nothing locked that it does not move.
      expect(new Set(post.moved)).toEqual(new Set(post.accounts));
    },
  );

  it('books the payout fee with the release, each entry once', async () => {
    const repository = new RecordingRepository();
    await new LedgerService(repository as unknown as LedgerRepository).settleRelease(m, trade, { kind: ENTRY.payoutFee, feeUsd: 35n });
    expect(repository.calls[1].kinds).toEqual([ENTRY.holdPosted, ENTRY.toPayable, ENTRY.fee, ENTRY.payoutCleared, ENTRY.payoutFee]);
    expect(repository.calls[0].accounts).toContain(LEDGER_ACCOUNTS.providerFeeExpense(trade.id).id);
  });

  it('books no fee entry for a fee of zero', async () => {
    const repository = new RecordingRepository();
    await new LedgerService(repository as unknown as LedgerRepository).settleRelease(
      m,
      { ...trade, feeUsd: 0n },
      { kind: ENTRY.payoutFee, feeUsd: 0n },
    );
    expect(repository.calls[1].kinds).toEqual([ENTRY.holdPosted, ENTRY.toPayable, ENTRY.payoutCleared]);
    expect(repository.calls[1].accounts).not.toContain(LEDGER_ACCOUNTS.providerFeeExpense(trade.id).id);
  });
});
