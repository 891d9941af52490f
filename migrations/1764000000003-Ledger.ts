import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Double-entry ledger in USD cents. Every transfer debits one account and credits another by the same
 * amount, so every entry sums to zero by construction. Two-phase transfers: a pending transfer is later
 * posted (in full or in part) or voided, exactly once.
 */
export class Ledger1764000000003 implements MigrationInterface {
  name = 'Ledger1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ledger_accounts (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('provider_clearing', 'escrow', 'counterparty_payable', 'traveler_refund_payable', 'suspense', 'fee_revenue', 'provider_fee_expense')),
        currency text NOT NULL CHECK (currency IN ('USD', 'CNY')),
        trade_id uuid,
        debits_pending bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
        credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
        debits_posted bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
        credits_posted bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0)
      )`);
    await q.query(`CREATE INDEX ledger_accounts_trade_idx ON ledger_accounts (trade_id) WHERE trade_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE ledger_transfers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        trade_id uuid REFERENCES trades (id),
        kind text NOT NULL,
        phase text NOT NULL CHECK (phase IN ('single', 'pending', 'post', 'void')),
        pending_id uuid REFERENCES ledger_transfers (id),
        debit_account text NOT NULL REFERENCES ledger_accounts (id),
        credit_account text NOT NULL REFERENCES ledger_accounts (id),
        amount bigint NOT NULL CHECK (amount >= 0),
        currency text NOT NULL CHECK (currency IN ('USD', 'CNY')),
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (debit_account <> credit_account),
        CHECK ((phase IN ('post', 'void')) = (pending_id IS NOT NULL)),
        CHECK (phase = 'void' OR phase = 'post' OR amount > 0)
      )`);
    // A pending transfer is resolved (posted or voided) at most once; each kind of entry happens once per trade.
    await q.query(`CREATE UNIQUE INDEX ledger_transfers_resolved_once ON ledger_transfers (pending_id) WHERE pending_id IS NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX ledger_transfers_once_per_trade ON ledger_transfers (trade_id, kind) WHERE trade_id IS NOT NULL`);
    await q.query(
      `CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers FOR EACH ROW EXECUTE FUNCTION refuse_change()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ledger_transfers`);
    await q.query(`DROP TABLE IF EXISTS ledger_accounts`);
  }
}
