import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reconciliation with the providers: each run, where the next one continues (a cursor over trades by
 * `updated_at, id`, and how far PayPal's payouts and the bank's incoming transfers were searched), the mismatches it found (open until a later run
 * finds them resolved), and the trades whose provider outcome was not final yet, asked about again each run.
 */
export class Reconciliation1764000000018 implements MigrationInterface {
  name = 'Reconciliation1764000000018';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reconciliation_runs (
        id bigserial PRIMARY KEY,
        trigger text NOT NULL CHECK (trigger IN ('schedule', 'operator')),
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        checked_trades integer NOT NULL DEFAULT 0 CHECK (checked_trades >= 0),
        -- Trades whose provider could not answer this time: their open mismatches are carried, not resolved.
        inconclusive_trades integer NOT NULL DEFAULT 0 CHECK (inconclusive_trades >= 0),
        opened integer NOT NULL DEFAULT 0,
        resolved integer NOT NULL DEFAULT 0,
        cursor_updated_at timestamptz,
        cursor_trade_id uuid,
        payouts_searched_until timestamptz,
        bank_searched_until timestamptz,
        totals jsonb,
        error text,
        CHECK ((cursor_updated_at IS NULL) = (cursor_trade_id IS NULL))
      )`);
    // One run at a time: a second one waits (its job retries) rather than racing the first for the cursor.
    await q.query(`CREATE UNIQUE INDEX reconciliation_runs_one_running ON reconciliation_runs ((true)) WHERE finished_at IS NULL`);
    await q.query(`CREATE INDEX reconciliation_runs_finished_idx ON reconciliation_runs (id DESC) WHERE finished_at IS NOT NULL`);
    await q.query(`
      CREATE TABLE reconciliation_mismatches (
        id bigserial PRIMARY KEY,
        kind text NOT NULL,
        -- What it is about: the trade's id, 'platform' for totals, 'paypal-batch:<id>' / 'bank-transfer:<id>' for money no trade owns.
        subject text NOT NULL,
        trade_id uuid REFERENCES trades (id),
        ledger jsonb,
        provider jsonb,
        detail text NOT NULL,
        opened_run bigint NOT NULL REFERENCES reconciliation_runs (id),
        last_seen_run bigint NOT NULL REFERENCES reconciliation_runs (id),
        resolved_run bigint REFERENCES reconciliation_runs (id),
        opened_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        -- This mismatch set the trade's settlement_failing flag: once the trade's mismatches are resolved, reconciliation clears it.
        raised_flag boolean NOT NULL DEFAULT false,
        CHECK ((resolved_at IS NULL) = (resolved_run IS NULL))
      )`);
    await q.query(
      `CREATE UNIQUE INDEX reconciliation_mismatches_open_key ON reconciliation_mismatches (kind, subject) WHERE resolved_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX reconciliation_mismatches_open_trade_idx ON reconciliation_mismatches (trade_id) WHERE resolved_at IS NULL`,
    );
    await q.query(`
      CREATE TABLE reconciliation_watch (
        trade_id uuid PRIMARY KEY REFERENCES trades (id),
        reason text NOT NULL,
        until timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // The cursor's walk, and the payout search's lookup of batches the platform knows.
    await q.query(`CREATE INDEX trades_updated_idx ON trades (updated_at, id)`);
    await q.query(`CREATE INDEX trade_fundings_payout_batch_idx ON trade_fundings (payout_batch_id) WHERE payout_batch_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS trade_fundings_payout_batch_idx`);
    await q.query(`DROP INDEX IF EXISTS trades_updated_idx`);
    await q.query(`DROP TABLE IF EXISTS reconciliation_watch`);
    await q.query(`DROP TABLE IF EXISTS reconciliation_mismatches`);
    await q.query(`DROP TABLE IF EXISTS reconciliation_runs`);
  }
}
