import { MigrationInterface, QueryRunner } from 'typeorm';

const TERMINAL = `'completed', 'refunded', 'settled_split', 'cancelled', 'expired'`;

const SNAPSHOT_COLUMNS = [
  'traveler_wechat_ciphertext',
  'traveler_wechat_key_id',
  'traveler_wechat_index',
  'counterparty_wechat_ciphertext',
  'counterparty_wechat_key_id',
  'counterparty_wechat_index',
  'counterparty_paypal_ciphertext',
  'counterparty_paypal_key_id',
  'counterparty_paypal_index',
];

/**
 * Payment handles shown and kept no longer than needed.
 *
 * - `trade_handle_reveals`: one row per trade, state, viewer and field the first time a handle is shown, so a
 *   `handle_revealed` timeline event is written once per trade and state (the primary key makes concurrent first
 *   reads write one), and later reads only look the marker up.
 * - `trades.ended_at`: when the trade reached its terminal state, set by a trigger on every path that ends it.
 * - The handle snapshots become erasable: `handles_erased_at` set means every snapshot column is null, only ever on
 *   an ended trade; not erased means every snapshot column is set.
 */
export class HandleReveals1764000000026 implements MigrationInterface {
  name = 'HandleReveals1764000000026';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE trade_handle_reveals (
        trade_id uuid NOT NULL REFERENCES trades (id),
        state text NOT NULL,
        viewer_id uuid NOT NULL,
        field text NOT NULL CHECK (field IN ('travelerWechatId', 'counterpartyWechatId', 'counterpartyPaypalEmail')),
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (trade_id, state, viewer_id, field)
      )`);

    await q.query(`ALTER TABLE trades ADD COLUMN ended_at timestamptz, ADD COLUMN handles_erased_at timestamptz`);
    await q.query(`ALTER TABLE trades ${SNAPSHOT_COLUMNS.map((c) => `ALTER COLUMN ${c} DROP NOT NULL`).join(', ')}`);
    await q.query(`
      ALTER TABLE trades ADD CONSTRAINT trades_handles_kept_or_erased CHECK (
        CASE WHEN handles_erased_at IS NULL THEN ${SNAPSHOT_COLUMNS.map((c) => `${c} IS NOT NULL`).join(' AND ')}
             ELSE ${SNAPSHOT_COLUMNS.map((c) => `${c} IS NULL`).join(' AND ')} AND state IN (${TERMINAL}) END)`);

    // Ended trades before this migration: the time of their last transition.
    await q.query(`
      UPDATE trades t SET ended_at = coalesce(
        (SELECT max(e.at) FROM trade_events e WHERE e.trade_id = t.id AND e.to_state = t.state), t.updated_at)
       WHERE t.state IN (${TERMINAL})`);
    await q.query(`
      CREATE FUNCTION trades_set_ended_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state IN (${TERMINAL}) AND OLD.state NOT IN (${TERMINAL}) THEN
          NEW.ended_at := now();
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER trades_ended_at BEFORE UPDATE OF state ON trades FOR EACH ROW EXECUTE FUNCTION trades_set_ended_at()`);
    // The retention sweep's walk: ended trades whose handles are still kept, oldest end first.
    await q.query(`CREATE INDEX trades_handles_kept_idx ON trades (ended_at, id) WHERE handles_erased_at IS NULL AND ended_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS trades_handles_kept_idx`);
    await q.query(`DROP TRIGGER IF EXISTS trades_ended_at ON trades`);
    await q.query(`DROP FUNCTION IF EXISTS trades_set_ended_at()`);
    await q.query(`ALTER TABLE trades DROP CONSTRAINT IF EXISTS trades_handles_kept_or_erased`);
    await q.query(`ALTER TABLE trades DROP COLUMN IF EXISTS handles_erased_at, DROP COLUMN IF EXISTS ended_at`);
    await q.query(`DROP TABLE IF EXISTS trade_handle_reveals`);
  }
}
