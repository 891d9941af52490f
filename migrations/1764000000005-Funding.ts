import { MigrationInterface, QueryRunner } from 'typeorm';

/** The USD leg's provider records: a trade's PayPal order and settlement ids, and every provider event received. */
export class Funding1764000000005 implements MigrationInterface {
  name = 'Funding1764000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE trade_fundings (
        trade_id uuid PRIMARY KEY REFERENCES trades (id),
        provider text NOT NULL CHECK (provider IN ('paypal', 'bank_transfer')),
        order_id text,
        approve_url text,
        authorization_id text,
        capture_id text,
        payout_batch_id text,
        payout_item_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX trade_fundings_order_key ON trade_fundings (order_id) WHERE order_id IS NOT NULL`);
    await q.query(
      `CREATE UNIQUE INDEX trade_fundings_authorization_key ON trade_fundings (authorization_id) WHERE authorization_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX trade_fundings_payout_item_idx ON trade_fundings (payout_item_id) WHERE payout_item_id IS NOT NULL`);

    // Every provider event, once: a redelivery finds its id here and changes nothing. The raw body is kept for
    // audit, encrypted: it names payers and payout receivers.
    await q.query(`
      CREATE TABLE provider_events (
        provider text NOT NULL,
        event_id text NOT NULL,
        event_type text NOT NULL,
        raw_ciphertext text NOT NULL,
        raw_key_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, event_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS provider_events`);
    await q.query(`DROP TABLE IF EXISTS trade_fundings`);
  }
}
