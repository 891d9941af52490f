import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedQuery } from '../common/database/query';
import { balanceChanges, LedgerEntry, PendingTransfer, transferRows } from './ledger-entries';

export type AccountKind =
  'provider_clearing' | 'escrow' | 'counterparty_payable' | 'traveler_refund_payable' | 'suspense' | 'fee_revenue' | 'provider_fee_expense';

export interface AccountRef {
  id: string;
  kind: AccountKind;
  tradeId?: string;
}

/** The ledger's SQL. An operation is two statements: its locks and reads, then its transfers with the balances they move. */
@Injectable()
export class LedgerRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * An operation's first statement, before it locks any account: the trade's row FOR KEY SHARE (what a transfer's
   * foreign key takes anyway: taken here, the trade comes before the ledger even in a transaction that did not lock
   * it), in a MATERIALIZED CTE that the accounts to create wait on (a one-time filter), so it is taken before them;
   * and the trade's pending hold of kind `holdKind`, when the operation resolves one. Nothing is sent when there is
   * neither a trade, an account to create nor a hold to read.
   *
   * The hold is read on the statement's snapshot, taken before any wait on the trade's row. Holds are written once, at
   * funding, by a transaction that holds the trade's row; an operation that resolves one runs after its own
   * transition took that row, so it never waits here and its snapshot has the hold.
   */
  async prepare(
    manager: EntityManager,
    tradeId: string | null,
    create: AccountRef[],
    holdKind: string | null,
  ): Promise<PendingTransfer | null> {
    if (!tradeId && create.length === 0 && !holdKind) return null;
    const rows = await preparedQuery<{ id: string; debit_account: string; credit_account: string; amount: string }>(
      this.dataSource,
      manager,
      `WITH trade AS MATERIALIZED (SELECT 1 FROM trades WHERE id = $1::uuid FOR KEY SHARE),
            created AS (
              INSERT INTO ledger_accounts (id, kind, currency, trade_id)
              SELECT id, kind, 'USD', trade_id FROM unnest($2::text[], $3::text[], $4::uuid[]) WITH ORDINALITY AS a (id, kind, trade_id, n)
               WHERE (SELECT count(*) FROM trade) >= 0
               ORDER BY n
              ON CONFLICT (id) DO NOTHING)
       SELECT h.id, h.debit_account, h.credit_account, h.amount::text AS amount
         FROM ledger_transfers h
        WHERE (SELECT count(*) FROM trade) >= 0 AND $5::text IS NOT NULL
          AND h.trade_id = $1::uuid AND h.kind = $5::text AND h.phase = 'pending'`,
      [tradeId, create.map((a) => a.id), create.map((a) => a.kind), create.map((a) => a.tradeId ?? null), holdKind],
    );
    return rows.length === 0
      ? null
      : { id: rows[0].id, debitAccount: rows[0].debit_account, creditAccount: rows[0].credit_account, amount: BigInt(rows[0].amount) };
  }

  /**
   * An operation's second statement: every account it moves locked FOR NO KEY UPDATE in the order given (the
   * service's one order), in a MATERIALIZED CTE that its writes wait on; then its transfers appended and each
   * account's balances changed once by the sum of them. A statement that starts after `prepare` sees every account
   * committed before it (one created during a wait on the trade too). A balance row another transaction changed
   * while this waited for its lock is updated at its latest version (READ COMMITTED rechecks an updated row).
   * The unique index on `pending_id` refuses a second resolution of a hold.
   */
  async post(manager: EntityManager, tradeId: string | null, ordered: AccountRef[], entries: LedgerEntry[]): Promise<void> {
    const transfers = transferRows(entries);
    const changes = balanceChanges(entries);
    const rows = await preparedQuery<{ moved: string[] }>(
      this.dataSource,
      manager,
      `WITH locked AS MATERIALIZED (
              SELECT id FROM ledger_accounts WHERE id = ANY($1::text[]) ORDER BY array_position($1::text[], id) FOR NO KEY UPDATE
            ), transfers AS (
              INSERT INTO ledger_transfers (trade_id, kind, phase, pending_id, debit_account, credit_account, amount, currency)
              SELECT $2::uuid, t.kind, t.phase, t.pending_id, t.debit, t.credit, t.amount, 'USD'
                FROM unnest($3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::bigint[]) WITH ORDINALITY
                     AS t (kind, phase, pending_id, debit, credit, amount, n)
               WHERE (SELECT count(*) FROM locked) >= 0
               ORDER BY n
            ), moved AS (
              UPDATE ledger_accounts a
                 SET debits_pending = a.debits_pending + c.debits_pending, debits_posted = a.debits_posted + c.debits_posted,
                     credits_pending = a.credits_pending + c.credits_pending, credits_posted = a.credits_posted + c.credits_posted
                FROM unnest($9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])
                     AS c (id, debits_pending, debits_posted, credits_pending, credits_posted)
               WHERE a.id = c.id AND (SELECT count(*) FROM locked) >= 0
              RETURNING a.id)
       SELECT coalesce((SELECT array_agg(id) FROM moved), '{}') AS moved`,
      [
        ordered.map((a) => a.id),
        tradeId,
        transfers.map((t) => t.kind),
        transfers.map((t) => t.phase),
        transfers.map((t) => t.pendingId),
        transfers.map((t) => t.debit),
        transfers.map((t) => t.credit),
        transfers.map((t) => t.amount.toString()),
        changes.map((c) => c.account),
        changes.map((c) => c.debitsPending.toString()),
        changes.map((c) => c.debitsPosted.toString()),
        changes.map((c) => c.creditsPending.toString()),
        changes.map((c) => c.creditsPosted.toString()),
      ],
    );
    const moved = new Set(rows[0].moved);
    const missing = changes.find((c) => !moved.has(c.account));
    if (missing) throw new Error(`Ledger account ${missing.account} does not exist`);
  }

  async hasEntry(tradeId: string, kind: string, manager?: EntityManager): Promise<boolean> {
    const rows = await (manager ?? this.dataSource.manager).query(`SELECT 1 FROM ledger_transfers WHERE trade_id = $1 AND kind = $2`, [
      tradeId,
      kind,
    ]);
    return rows.length > 0;
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
