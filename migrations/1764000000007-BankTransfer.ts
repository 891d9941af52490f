import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bank transfers: the sandbox bank's own records (incoming transfers, returns to their senders, closed accounts), and the
 * platform's side: a trade's unique reference, and what became of every incoming transfer it was told of.
 */
export class BankTransfer1764000000007 implements MigrationInterface {
  name = 'BankTransfer1764000000007';

  async up(q: QueryRunner): Promise<void> {
    // The mock bank. A return sends (part of) an incoming transfer back to its sender, once per idempotency key.
    await q.query(`
      CREATE TABLE bank_mock_transfers (
        id text PRIMARY KEY,
        direction text NOT NULL CHECK (direction IN ('incoming', 'return')),
        reference text,
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        sender_account text,
        returns_transfer_id text REFERENCES bank_mock_transfers (id),
        idempotency_key text UNIQUE,
        status text NOT NULL CHECK (status IN ('pending', 'settled', 'failed', 'returned')),
        created_at timestamptz NOT NULL DEFAULT now(),
        settled_at timestamptz,
        CHECK ((direction = 'return') = (returns_transfer_id IS NOT NULL))
      )`);
    // Accounts the sandbox closed: money sent back to them settles, then bounces ('returned'), as a real return does.
    await q.query(
      `CREATE TABLE bank_mock_accounts (account text PRIMARY KEY, closed boolean NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await q.query(`CREATE INDEX bank_mock_transfers_reference_idx ON bank_mock_transfers (reference) WHERE direction = 'incoming'`);
    await q.query(`CREATE INDEX bank_mock_transfers_returns_idx ON bank_mock_transfers (returns_transfer_id) WHERE direction = 'return'`);

    await q.query(`ALTER TABLE trade_fundings ADD COLUMN bank_reference text, ADD COLUMN bank_transfer_id text, ADD COLUMN refund_id text`);
    await q.query(
      `CREATE UNIQUE INDEX trade_fundings_bank_reference_key ON trade_fundings (bank_reference) WHERE bank_reference IS NOT NULL`,
    );

    // Every settled incoming transfer, decided once (the primary key): the part that funded its trade, and the
    // part held in suspense until the bank confirms it went back to the sender.
    await q.query(`
      CREATE TABLE bank_incoming_transfers (
        transfer_id text PRIMARY KEY,
        trade_id uuid REFERENCES trades (id),
        amount_usd bigint NOT NULL CHECK (amount_usd > 0),
        funded_usd bigint NOT NULL CHECK (funded_usd >= 0),
        suspense_usd bigint NOT NULL CHECK (suspense_usd >= 0),
        disposition text NOT NULL CHECK (disposition IN ('funded', 'overpaid', 'underpaid', 'late', 'unknown_reference')),
        return_id text,
        returned_at timestamptz,
        -- The return settled, then the sender's bank sent it back: the money is in suspense again, for operators.
        bounced_at timestamptz,
        -- The bank refused the return outright: the money stays in suspense, for operators.
        return_failed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (funded_usd + suspense_usd = amount_usd)
      )`);
    // Suspense the bank could not give back (refused, or bounced): operators' to settle.
    await q.query(
      `CREATE INDEX bank_incoming_transfers_stuck_idx ON bank_incoming_transfers (created_at) WHERE bounced_at IS NOT NULL OR return_failed_at IS NOT NULL`,
    );
    await q.query(`CREATE INDEX bank_incoming_transfers_trade_idx ON bank_incoming_transfers (trade_id) WHERE trade_id IS NOT NULL`);
    // The returns still owed: the sweeper finds them here when their job was lost.
    await q.query(
      `CREATE INDEX bank_incoming_transfers_unreturned_idx ON bank_incoming_transfers (created_at) WHERE suspense_usd > 0 AND returned_at IS NULL AND return_failed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS bank_incoming_transfers`);
    await q.query(`DROP INDEX IF EXISTS trade_fundings_bank_reference_key`);
    await q.query(
      `ALTER TABLE trade_fundings DROP COLUMN IF EXISTS bank_reference, DROP COLUMN IF EXISTS bank_transfer_id, DROP COLUMN IF EXISTS refund_id`,
    );
    await q.query(`DROP TABLE IF EXISTS bank_mock_transfers`);
    await q.query(`DROP TABLE IF EXISTS bank_mock_accounts`);
  }
}
