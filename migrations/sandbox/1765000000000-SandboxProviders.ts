import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first migration of the sandbox chain (`migrations/sandbox/`, recorded in `sandbox_schema_migrations`), which
 * runs only in sandbox mode: the provider mocks' own state, as the main chain's SandboxPaypal, BankTransfer and
 * SandboxWechat migrations first made it. Every statement is `IF NOT EXISTS`: on a database that has the tables
 * already (a sandbox that has been used) it changes nothing; where the main chain's SandboxTablesOut dropped them
 * (they were all empty), it makes them again, the same. The mocks' later schema changes belong in this chain.
 */
export class SandboxProviders1765000000000 implements MigrationInterface {
  name = 'SandboxProviders1765000000000';

  async up(q: QueryRunner): Promise<void> {
    // Fault settings (rates included: the sandbox rate feed draws from them too) and the mocks' signing identities.
    await q.query(`
      CREATE TABLE IF NOT EXISTS sandbox_faults (
        provider text PRIMARY KEY CHECK (provider IN ('paypal', 'bank', 'wechat', 'rates')),
        settings jsonb NOT NULL DEFAULT '{}',
        calls bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS sandbox_keys (
        name text PRIMARY KEY,
        private_key_pem text NOT NULL,
        certificate_pem text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    // PayPal: tokens, orders, authorizations, captures, refunds, payouts, webhook transmissions, replays.
    await q.query(`
      CREATE TABLE IF NOT EXISTS paypal_mock_tokens (
        token text PRIMARY KEY,
        client_id text NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS paypal_mock_orders (
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
      CREATE TABLE IF NOT EXISTS paypal_mock_authorizations (
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
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS paypal_mock_authorizations_order_key ON paypal_mock_authorizations (order_id)`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS paypal_mock_captures (
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
      CREATE TABLE IF NOT EXISTS paypal_mock_refunds (
        id text PRIMARY KEY,
        capture_id text NOT NULL REFERENCES paypal_mock_captures (id),
        status text NOT NULL CHECK (status IN ('COMPLETED')),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        currency text NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS paypal_mock_payout_batches (
        id text PRIMARY KEY,
        sender_batch_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'SUCCESS', 'DENIED', 'CANCELED')),
        sender_batch_header jsonb NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now(),
        completed_time timestamptz
      )`);
    await q.query(
      `CREATE UNIQUE INDEX IF NOT EXISTS paypal_mock_payout_batches_sender_key ON paypal_mock_payout_batches (sender_batch_id)`,
    );
    await q.query(`
      CREATE TABLE IF NOT EXISTS paypal_mock_payout_items (
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
    await q.query(`CREATE INDEX IF NOT EXISTS paypal_mock_payout_items_batch_idx ON paypal_mock_payout_items (batch_id)`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS paypal_mock_transmissions (
        transmission_id text PRIMARY KEY,
        event_id text NOT NULL,
        raw_body text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS paypal_mock_replays (
        request_id text NOT NULL,
        endpoint text NOT NULL,
        status smallint NOT NULL,
        body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, endpoint)
      )`);

    // The bank: incoming transfers and returns to their senders, and the accounts the sandbox closed.
    await q.query(`
      CREATE TABLE IF NOT EXISTS bank_mock_transfers (
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
    await q.query(
      `CREATE TABLE IF NOT EXISTS bank_mock_accounts (account text PRIMARY KEY, closed boolean NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS bank_mock_transfers_reference_idx ON bank_mock_transfers (reference) WHERE direction = 'incoming'`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS bank_mock_transfers_returns_idx ON bank_mock_transfers (returns_transfer_id) WHERE direction = 'return'`,
    );

    // WeChat Pay: wallets with CNY balances in fen that never go negative, and wallet-to-wallet transfers.
    await q.query(`
      CREATE TABLE IF NOT EXISTS wechat_mock_wallets (
        wechat_id text PRIMARY KEY,
        balance_fen bigint NOT NULL CHECK (balance_fen >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS wechat_mock_transfers (
        id text PRIMARY KEY,
        from_wechat_id text NOT NULL REFERENCES wechat_mock_wallets (wechat_id),
        to_wechat_id text NOT NULL REFERENCES wechat_mock_wallets (wechat_id),
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        memo text,
        state text NOT NULL CHECK (state IN ('PROCESSING', 'SUCCESS', 'FAIL')),
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        CHECK (from_wechat_id <> to_wechat_id)
      )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS wechat_mock_transfers_pair_idx ON wechat_mock_transfers (from_wechat_id, to_wechat_id, create_time DESC)`,
    );
  }

  async down(): Promise<void> {
    // The tables may predate this chain (made by the main chain before it), so undoing this migration keeps them.
  }
}
