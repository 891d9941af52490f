import type { EntityManager } from 'typeorm';
import type { AccountRef, LedgerRepository, PendingTransfer } from './ledger.repository';
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
  calls: { op: string; tradeId?: string | null; accounts: string[] }[] = [];
  async lockAccounts(_m: unknown, tradeId: string | null, ordered: AccountRef[], create: AccountRef[]) {
    this.calls.push({ op: 'lock', tradeId, accounts: ordered.map((a) => a.id) });
    if (create.length > 0) this.calls.push({ op: 'create', accounts: create.map((a) => a.id) });
  }
  async transfer(_m: unknown, t: { debit: string; credit: string }) {
    this.calls.push({ op: 'move', accounts: [t.debit, t.credit] });
    return 'transfer';
  }
  async resolve(_m: unknown, _t: string, _k: string, pending: PendingTransfer) {
    this.calls.push({ op: 'move', accounts: [pending.debitAccount, pending.creditAccount] });
  }
  async pendingOf(_m: unknown, tradeId: string): Promise<PendingTransfer> {
    this.calls.push({ op: 'read', accounts: [] });
    return {
      id: 'hold',
      debitAccount: LEDGER_ACCOUNTS.clearing(tradeId).id,
      creditAccount: LEDGER_ACCOUNTS.escrow(tradeId).id,
      amount: 1000n,
    };
  }
}

describe('LedgerService lock order', () => {
  const trade = { id: 'a7000000-0000-4000-8000-000000000000', amountUsd: 1000n, feeUsd: 10n };
  const m = {} as EntityManager;
  const operations: [string, (ledger: LedgerService) => Promise<void>][] = [
    ['holdEscrow', (l) => l.holdEscrow(m, trade)],
    ['settleRelease', (l) => l.settleRelease(m, trade)],
    ['settleSplit', (l) => l.settleSplit(m, trade.id, 600n, 6n)],
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
    '%s locks the trade, then its clearing shard first and the rest by id, before it reads or moves',
    async (name, run) => {
      const repository = new RecordingRepository();
      await run(new LedgerService(repository as unknown as LedgerRepository));
      const [first, ...rest] = repository.calls;
      expect(first.op).toBe('lock');
      expect(first.tradeId).toBe(name.endsWith('without a trade') ? null : trade.id);
      expect(first.accounts[0]).toMatch(/^provider_clearing#\d+$/);
      expect(first.accounts).toEqual(ledgerLockOrder(first.accounts.map((id) => ({ id }))).map((a) => a.id));
      // One lock step per operation, and nothing moved that it did not lock.
      expect(rest.filter((c) => c.op === 'lock')).toEqual([]);
      for (const call of rest.filter((c) => c.op === 'move'))
        for (const account of call.accounts) expect(first.accounts).toContain(account);
    },
  );
});
