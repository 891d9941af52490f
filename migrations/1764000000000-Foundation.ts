import { MigrationInterface, QueryRunner } from 'typeorm';

/** Accounts, API keys, the operator audit log, idempotency records and the transactional outbox. */
export class Foundation1764000000000 implements MigrationInterface {
  name = 'Foundation1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto`);

    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        password_hash text NOT NULL,
        display_name text NOT NULL,
        role text NOT NULL CHECK (role IN ('traveler', 'counterparty', 'operator')),
        tier smallint NOT NULL DEFAULT 0 CHECK (tier BETWEEN 0 AND 2),
        suspended_at timestamptz,
        -- Payment handles: AES-256-GCM ciphertext, the key id beside it, and an HMAC blind index for lookups.
        wechat_id_ciphertext text,
        wechat_id_key_id text,
        wechat_id_index text,
        paypal_email_ciphertext text,
        paypal_email_key_id text,
        paypal_email_index text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((wechat_id_ciphertext IS NULL) = (wechat_id_key_id IS NULL) AND (wechat_id_ciphertext IS NULL) = (wechat_id_index IS NULL)),
        CHECK ((paypal_email_ciphertext IS NULL) = (paypal_email_key_id IS NULL) AND (paypal_email_ciphertext IS NULL) = (paypal_email_index IS NULL)),
        CHECK (email = lower(email))
      )`);
    await q.query(`CREATE UNIQUE INDEX users_email_key ON users (email)`);
    await q.query(`CREATE INDEX users_wechat_id_index ON users (wechat_id_index) WHERE wechat_id_index IS NOT NULL`);
    await q.query(`CREATE INDEX users_paypal_email_index ON users (paypal_email_index) WHERE paypal_email_index IS NOT NULL`);

    // Reputation counters, kept current by the trade and dispute transitions so reading never scans trades.
    await q.query(`
      CREATE TABLE user_reputation (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        completed_trades integer NOT NULL DEFAULT 0 CHECK (completed_trades >= 0),
        failed_trades integer NOT NULL DEFAULT 0 CHECK (failed_trades >= 0),
        disputes_lost integer NOT NULL DEFAULT 0 CHECK (disputes_lost >= 0),
        disputes_won integer NOT NULL DEFAULT 0 CHECK (disputes_won >= 0),
        rating_sum integer NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
        rating_count integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
        -- Minutes of the last 100 completed trades (newest last), for the median.
        recent_release_minutes integer[] NOT NULL DEFAULT '{}' CHECK (cardinality(recent_release_minutes) <= 100)
      )`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        prefix text NOT NULL,
        key_hash text NOT NULL,
        name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash)`);
    await q.query(`CREATE INDEX api_keys_user_id_idx ON api_keys (user_id, created_at)`);

    await q.query(`
      CREATE TABLE audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        operator_id uuid REFERENCES users (id),
        action text NOT NULL,
        target_type text NOT NULL,
        target_id uuid,
        trade_id uuid,
        detail jsonb NOT NULL DEFAULT '{}',
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX audit_log_operator_idx ON audit_log (operator_id, at, id)`);
    await q.query(`CREATE INDEX audit_log_trade_idx ON audit_log (trade_id, at, id) WHERE trade_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_log_at_idx ON audit_log (at, id)`);
    // The audit log is append-only: corrections are new entries, never edits.
    await q.query(`
      CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(
      `CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_change()`,
    );

    await q.query(`
      CREATE TABLE idempotency_keys (
        owner_id uuid NOT NULL,
        key text NOT NULL,
        -- Which claim owns the row: a request may complete or release only its own claim.
        claim_id uuid NOT NULL DEFAULT gen_random_uuid(),
        method text NOT NULL,
        path text NOT NULL,
        request_hash text NOT NULL,
        state text NOT NULL CHECK (state IN ('in_progress', 'completed')),
        response_status smallint,
        -- The first response, encrypted: it may hold a secret shown once (a new API key) or a payment handle.
        response_ciphertext text,
        response_key_id text,
        response_headers jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (owner_id, key),
        CHECK ((state = 'completed') = (response_status IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at)`);

    await q.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        queue text NOT NULL,
        job_name text NOT NULL,
        job_id text NOT NULL CHECK (position(':' in job_id) = 0),
        payload jsonb NOT NULL,
        delay_ms integer NOT NULL DEFAULT 0 CHECK (delay_ms >= 0),
        -- Retry policy of the job when it differs from the queue's default: {attempts, backoffMs}.
        job_options jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        -- A row whose enqueue failed waits before its next try, so it cannot hold back the rows behind it.
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text
      )`);
    // The relay reads only what is unpublished; the partial index stays small however long the table grows.
    await q.query(`CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['outbox', 'idempotency_keys', 'audit_log', 'api_keys', 'user_reputation', 'users']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS refuse_change()`);
  }
}
