import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sandbox providers' own state: fault settings, and the PayPal mock's tokens, orders, authorizations,
 * captures, refunds and replayable responses. It lives in PostgreSQL so it survives restarts and is shared
 * by every process, as a real provider's would be.
 */
export class SandboxPaypal1764000000004 implements MigrationInterface {
  name = 'SandboxPaypal1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sandbox_faults (
        provider text PRIMARY KEY CHECK (provider IN ('paypal', 'bank', 'wechat', 'rates')),
        settings jsonb NOT NULL DEFAULT '{}',
        calls bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE paypal_mock_tokens (
        token text PRIMARY KEY,
        client_id text NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE paypal_mock_orders (
        id text PRIMARY KEY,
        intent text NOT NULL,
        status text NOT NULL CHECK (status IN ('CREATED', 'APPROVED', 'COMPLETED', 'VOIDED')),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        currency text NOT NULL,
        purchase_units jsonb NOT NULL,
        return_url text,
        cancel_url text,
        payer jsonb,
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE paypal_mock_authorizations (
        id text PRIMARY KEY,
        order_id text NOT NULL REFERENCES paypal_mock_orders (id),
        status text NOT NULL CHECK (status IN ('CREATED', 'CAPTURED', 'PARTIALLY_CAPTURED', 'VOIDED', 'EXPIRED')),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        captured_cents bigint NOT NULL DEFAULT 0 CHECK (captured_cents >= 0),
        currency text NOT NULL,
        honor_expires_at timestamptz NOT NULL,
        expiration_time timestamptz NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        CHECK (captured_cents <= amount_cents)
      )`);
    await q.query(`CREATE UNIQUE INDEX paypal_mock_authorizations_order_key ON paypal_mock_authorizations (order_id)`);
    await q.query(`
      CREATE TABLE paypal_mock_captures (
        id text PRIMARY KEY,
        authorization_id text NOT NULL REFERENCES paypal_mock_authorizations (id),
        status text NOT NULL CHECK (status IN ('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        refunded_cents bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
        currency text NOT NULL,
        final_capture boolean NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        CHECK (refunded_cents <= amount_cents)
      )`);
    await q.query(`
      CREATE TABLE paypal_mock_refunds (
        id text PRIMARY KEY,
        capture_id text NOT NULL REFERENCES paypal_mock_captures (id),
        status text NOT NULL CHECK (status IN ('COMPLETED')),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        currency text NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now()
      )`);
    // Payouts v1: batches deduplicated by sender_batch_id, items settled after a delay (SUCCESS, or UNCLAIMED then RETURNED).
    await q.query(`
      CREATE TABLE paypal_mock_payout_batches (
        id text PRIMARY KEY,
        sender_batch_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'SUCCESS', 'DENIED', 'CANCELED')),
        sender_batch_header jsonb NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now(),
        completed_time timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX paypal_mock_payout_batches_sender_key ON paypal_mock_payout_batches (sender_batch_id)`);
    await q.query(`
      CREATE TABLE paypal_mock_payout_items (
        id text PRIMARY KEY,
        batch_id text NOT NULL REFERENCES paypal_mock_payout_batches (id),
        sender_item_id text,
        receiver text NOT NULL,
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        currency text NOT NULL,
        note text,
        status text NOT NULL CHECK (status IN ('PENDING', 'SUCCESS', 'UNCLAIMED', 'RETURNED', 'FAILED')),
        fee_cents bigint NOT NULL DEFAULT 0,
        transaction_id text,
        time_processed timestamptz
      )`);
    await q.query(`CREATE INDEX paypal_mock_payout_items_batch_idx ON paypal_mock_payout_items (batch_id)`);
    // The mock's signing identity (an RSA key and its self-signed certificate), made once, shared by every process.
    await q.query(`
      CREATE TABLE sandbox_keys (
        name text PRIMARY KEY,
        private_key_pem text NOT NULL,
        certificate_pem text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Each webhook delivery attempt, kept so verify-webhook-signature checks the exact bytes that were sent.
    await q.query(`
      CREATE TABLE paypal_mock_transmissions (
        transmission_id text PRIMARY KEY,
        event_id text NOT NULL,
        raw_body text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // PayPal-Request-Id: the same id on the same endpoint replays the stored response.
    await q.query(`
      CREATE TABLE paypal_mock_replays (
        request_id text NOT NULL,
        endpoint text NOT NULL,
        status smallint NOT NULL,
        body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, endpoint)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'paypal_mock_payout_items',
      'paypal_mock_payout_batches',
      'paypal_mock_transmissions',
      'sandbox_keys',
      'paypal_mock_replays',
      'paypal_mock_refunds',
      'paypal_mock_captures',
      'paypal_mock_authorizations',
      'paypal_mock_orders',
      'paypal_mock_tokens',
      'sandbox_faults',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
