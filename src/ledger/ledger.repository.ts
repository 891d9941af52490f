import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export type AccountKind =
  'provider_clearing' | 'escrow' | 'counterparty_payable' | 'traveler_refund_payable' | 'suspense' | 'fee_revenue' | 'provider_fee_expense';

export interface AccountRef {
  id: string;
  kind: AccountKind;
  tradeId?: string;
}

export interface PendingTransfer {
  id: string;
  debitAccount: string;
  creditAccount: string;
  amount: bigint;
}

/** The ledger's SQL. Balances change in the same statement as the transfer that moves them. */
@Injectable()
export class LedgerRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Takes an operation's locks before it moves anything, in the service's one order: the trade's row first
   * (FOR KEY SHARE, what a transfer's foreign key takes anyway: taken here, the trade comes before the ledger
   * even in a transaction that did not lock it), then the accounts to create, then every account it moves
   * (FOR NO KEY UPDATE, what the balance updates take), in the order given. With accounts to create, the trade's
   * lock rides on their INSERT, in a MATERIALIZED CTE its rows wait on (a one-time filter): taken before them. Never
   * on the accounts' SELECT: its snapshot, taken before a wait on the trade, would miss an account committed during
   * the wait and leave it to be locked out of order; a statement that starts after the wait sees it.
   */
  async lockAccounts(manager: EntityManager, tradeId: string | null, ordered: AccountRef[], create: AccountRef[]): Promise<void> {
    if (create.length > 0) {
      await manager.query(
        `WITH trade AS MATERIALIZED (SELECT 1 FROM trades WHERE id = $5::uuid FOR KEY SHARE)
         INSERT INTO ledger_accounts (id, kind, currency, trade_id)
         SELECT id, kind, currency, trade_id FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[])
                WITH ORDINALITY AS a (id, kind, currency, trade_id, n)
          WHERE (SELECT count(*) FROM trade) >= 0
          ORDER BY n
         ON CONFLICT (id) DO NOTHING`,
        [create.map((a) => a.id), create.map((a) => a.kind), create.map(() => 'USD'), create.map((a) => a.tradeId ?? null), tradeId],
      );
    } else if (tradeId) {
      await manager.query(`SELECT 1 FROM trades WHERE id = $1 FOR KEY SHARE`, [tradeId]);
    }
    await manager.query(
      `SELECT id FROM ledger_accounts WHERE id = ANY($1::text[]) ORDER BY array_position($1::text[], id) FOR NO KEY UPDATE`,
      [ordered.map((a) => a.id)],
    );
  }

  /**
   * Appends a transfer and moves the balances of both accounts (pending, or posted for a single-phase one) in one
   * statement. The accounts were locked first (`lockAccounts`), so the order of its updates takes no lock.
   */
  async transfer(
    manager: EntityManager,
    transfer: { tradeId: string | null; kind: string; phase: 'single' | 'pending'; debit: string; credit: string; amount: bigint },
  ): Promise<string> {
    const column = transfer.phase === 'pending' ? 'pending' : 'posted';
    const rows = await this.moving(
      manager,
      `INSERT INTO ledger_transfers (trade_id, kind, phase, debit_account, credit_account, amount, currency)
       VALUES ($1, $2, $3, $4, $5, $6, 'USD') RETURNING id`,
      [transfer.tradeId, transfer.kind, transfer.phase, transfer.debit, transfer.credit, transfer.amount.toString()],
      { account: transfer.debit, set: `debits_${column} = debits_${column} + $6` },
      { account: transfer.credit, set: `credits_${column} = credits_${column} + $6` },
    );
    return rows.id;
  }

  /**
   * Resolves a pending transfer: posts `amount` of it (the rest is released) or voids it all, in one statement
   * with the balances it moves. The unique index on `pending_id` makes a second resolution fail, so a hold is
   * resolved exactly once.
   */
  async resolve(manager: EntityManager, tradeId: string, kind: string, pending: PendingTransfer, postAmount: bigint | null): Promise<void> {
    const phase = postAmount === null ? 'void' : 'post';
    const amount = postAmount ?? 0n;
    if (amount < 0n || amount > pending.amount) throw new Error('A hold can only be posted up to its amount');
    // The hold leaves pending; what is posted of it (nothing for a void) lands in posted.
    const settle = (side: 'debits' | 'credits') => `${side}_pending = ${side}_pending - $8, ${side}_posted = ${side}_posted + $7`;
    await this.moving(
      manager,
      `INSERT INTO ledger_transfers (trade_id, kind, phase, pending_id, debit_account, credit_account, amount, currency)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'USD') RETURNING id`,
      [tradeId, kind, phase, pending.id, pending.debitAccount, pending.creditAccount, amount.toString(), pending.amount.toString()],
      { account: pending.debitAccount, set: settle('debits') },
      { account: pending.creditAccount, set: settle('credits') },
    );
  }

  /**
   * One transfer's insert and its two balance updates as one statement (each `set` may use the insert's parameters;
   * the two accounts are added after them). Two different accounts, each of which must exist.
   */
  private async moving(
    manager: EntityManager,
    insert: string,
    params: unknown[],
    debit: { account: string; set: string },
    credit: { account: string; set: string },
  ): Promise<{ id: string }> {
    // One statement updates a row once: a transfer between an account and itself would lose a side.
    if (debit.account === credit.account) throw new Error(`A transfer needs two accounts (${debit.account})`);
    const n = params.length;
    const rows: { id: string; debited: number; credited: number }[] = await manager.query(
      `WITH transfer AS (${insert}),
            debited AS (UPDATE ledger_accounts SET ${debit.set} WHERE id = $${n + 1} RETURNING id),
            credited AS (UPDATE ledger_accounts SET ${credit.set} WHERE id = $${n + 2} RETURNING id)
       SELECT (SELECT id FROM transfer)::text AS id, (SELECT count(*) FROM debited)::int AS debited,
              (SELECT count(*) FROM credited)::int AS credited`,
      [...params, debit.account, credit.account],
    );
    if (rows[0].debited !== 1) throw new Error(`Ledger account ${debit.account} does not exist`);
    if (rows[0].credited !== 1) throw new Error(`Ledger account ${credit.account} does not exist`);
    return rows[0];
  }

  async hasEntry(tradeId: string, kind: string, manager?: EntityManager): Promise<boolean> {
    const rows = await (manager ?? this.dataSource.manager).query(`SELECT 1 FROM ledger_transfers WHERE trade_id = $1 AND kind = $2`, [
      tradeId,
      kind,
    ]);
    return rows.length > 0;
  }

  async pendingOf(manager: EntityManager, tradeId: string, kind: string): Promise<PendingTransfer | null> {
    const rows: { id: string; debit_account: string; credit_account: string; amount: string }[] = await manager.query(
      `SELECT id, debit_account, credit_account, amount FROM ledger_transfers WHERE trade_id = $1 AND kind = $2 AND phase = 'pending'`,
      [tradeId, kind],
    );
    return rows.length === 0
      ? null
      : { id: rows[0].id, debitAccount: rows[0].debit_account, creditAccount: rows[0].credit_account, amount: BigInt(rows[0].amount) };
  }

  /** Σ debits − Σ credits per currency over every account, pending and posted: zero when the books balance. */
  async imbalance(manager: EntityManager): Promise<{ currency: string; posted: bigint; pending: bigint }[]> {
    const rows: { currency: string; posted: string; pending: string }[] = await manager.query(
      `SELECT currency, sum(debits_posted - credits_posted)::text AS posted, sum(debits_pending - credits_pending)::text AS pending
         FROM ledger_accounts GROUP BY currency`,
    );
    return rows.map((r) => ({ currency: r.currency, posted: BigInt(r.posted), pending: BigInt(r.pending) }));
  }

  /** Each transfer's own accounts agree with the transfers table (no balance moved outside a transfer). */
  async accountsDisagreeingWithTransfers(manager: EntityManager): Promise<string[]> {
    const rows: { id: string }[] = await manager.query(`
      WITH moves AS (
        SELECT t.debit_account AS account,
               sum(CASE WHEN t.phase = 'pending' THEN t.amount WHEN t.phase IN ('post', 'void') THEN -p.amount ELSE 0 END) AS pending,
               sum(CASE WHEN t.phase IN ('single', 'post') THEN t.amount ELSE 0 END) AS posted
          FROM ledger_transfers t LEFT JOIN ledger_transfers p ON p.id = t.pending_id GROUP BY t.debit_account
      ), credits AS (
        SELECT t.credit_account AS account,
               sum(CASE WHEN t.phase = 'pending' THEN t.amount WHEN t.phase IN ('post', 'void') THEN -p.amount ELSE 0 END) AS pending,
               sum(CASE WHEN t.phase IN ('single', 'post') THEN t.amount ELSE 0 END) AS posted
          FROM ledger_transfers t LEFT JOIN ledger_transfers p ON p.id = t.pending_id GROUP BY t.credit_account
      )
      SELECT a.id FROM ledger_accounts a
        LEFT JOIN moves d ON d.account = a.id LEFT JOIN credits c ON c.account = a.id
       WHERE a.debits_pending <> coalesce(d.pending, 0) OR a.debits_posted <> coalesce(d.posted, 0)
          OR a.credits_pending <> coalesce(c.pending, 0) OR a.credits_posted <> coalesce(c.posted, 0)`);
    return rows.map((r) => r.id);
  }
}
