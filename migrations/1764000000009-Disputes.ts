import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Disputes: one unresolved per trade (a partial unique index), its statements (text and attachment
 * metadata), the operator who holds it and the decision. Statements are append-only, as the timeline is.
 */
export class Disputes1764000000009 implements MigrationInterface {
  name = 'Disputes1764000000009';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE disputes (
        id uuid PRIMARY KEY,
        trade_id uuid NOT NULL REFERENCES trades (id),
        opened_by_kind text NOT NULL CHECK (opened_by_kind IN ('traveler', 'counterparty', 'system')),
        opened_by uuid REFERENCES users (id),
        reason text NOT NULL CHECK (reason IN ('rmb_not_received', 'wrong_amount', 'payment_not_released', 'fraud_suspected', 'other', 'verification_failed')),
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assigned', 'resolved')),
        assigned_to uuid REFERENCES users (id),
        assigned_at timestamptz,
        outcome text CHECK (outcome IN ('release', 'refund', 'split')),
        traveler_usd bigint CHECK (traveler_usd > 0),
        counterparty_usd bigint CHECK (counterparty_usd > 0),
        resolution_note text,
        resolved_by uuid REFERENCES users (id),
        resolved_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((opened_by_kind = 'system') = (opened_by IS NULL)),
        CHECK ((reason = 'verification_failed') = (opened_by_kind = 'system')),
        CHECK ((status = 'open') = (assigned_to IS NULL)),
        CHECK ((status = 'resolved') = (outcome IS NOT NULL AND resolved_at IS NOT NULL AND resolved_by IS NOT NULL)),
        CHECK ((outcome = 'split') = (traveler_usd IS NOT NULL AND counterparty_usd IS NOT NULL))
      )`);
    // A trade names its dispute; the trade row is written first in the same transaction, so the check waits for the commit.
    await q.query(
      `ALTER TABLE trades ADD CONSTRAINT trades_dispute_fk FOREIGN KEY (dispute_id) REFERENCES disputes (id) DEFERRABLE INITIALLY DEFERRED`,
    );
    await q.query(`CREATE UNIQUE INDEX disputes_one_unresolved_per_trade ON disputes (trade_id) WHERE status <> 'resolved'`);
    // The operators' queue: by status, oldest first.
    await q.query(`CREATE INDEX disputes_queue_idx ON disputes (status, created_at, id)`);
    await q.query(`CREATE INDEX disputes_trade_idx ON disputes (trade_id)`);

    await q.query(`
      CREATE TABLE dispute_statements (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        dispute_id uuid NOT NULL REFERENCES disputes (id),
        author_kind text NOT NULL CHECK (author_kind IN ('traveler', 'counterparty', 'system')),
        author_id uuid REFERENCES users (id),
        text text NOT NULL CHECK (length(text) BETWEEN 1 AND 5000),
        attachments jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(attachments) = 'array'),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX dispute_statements_dispute_idx ON dispute_statements (dispute_id, created_at, id)`);
    await q.query(
      `CREATE TRIGGER dispute_statements_append_only BEFORE UPDATE OR DELETE ON dispute_statements FOR EACH ROW EXECUTE FUNCTION refuse_change()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trades DROP CONSTRAINT IF EXISTS trades_dispute_fk`);
    await q.query(`DROP TABLE IF EXISTS dispute_statements`);
    await q.query(`DROP TABLE IF EXISTS disputes`);
  }
}
