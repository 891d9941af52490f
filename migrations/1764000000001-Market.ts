import { MigrationInterface, QueryRunner } from 'typeorm';

/** The reference rate's history, exchange requests and offers, with the indexes listings read in order. */
export class Market1764000000001 implements MigrationInterface {
  name = 'Market1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reference_rates (
        id bigserial PRIMARY KEY,
        rate bigint NOT NULL CHECK (rate > 0),
        as_of timestamptz NOT NULL,
        source text NOT NULL,
        fetched_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX reference_rates_as_of_idx ON reference_rates (as_of DESC, id DESC)`);

    // Amounts are CNY fen, rates 1/10000 CNY per USD, all bigint: never a float.
    await q.query(`
      CREATE TABLE exchange_requests (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        traveler_id uuid NOT NULL REFERENCES users (id),
        amount_cny bigint NOT NULL CHECK (amount_cny > 0),
        remaining_cny bigint NOT NULL CHECK (remaining_cny >= 0),
        min_fill_cny bigint NOT NULL CHECK (min_fill_cny > 0),
        price_type text NOT NULL CHECK (price_type IN ('fixed', 'floating')),
        fixed_rate bigint CHECK (fixed_rate > 0),
        premium_bps integer,
        payment_method text NOT NULL CHECK (payment_method IN ('paypal', 'bank_transfer')),
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'filled', 'cancelled', 'expired')),
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (remaining_cny <= amount_cny),
        CHECK (min_fill_cny <= amount_cny),
        CHECK ((price_type = 'fixed') = (fixed_rate IS NOT NULL) AND (price_type = 'floating') = (premium_bps IS NOT NULL)),
        CHECK (status <> 'filled' OR remaining_cny = 0)
      )`);
    // Listings read open requests in rate order, one index per kind of price (cheapest first for counterparties).
    await q.query(
      `CREATE INDEX exchange_requests_open_fixed_idx ON exchange_requests (fixed_rate, id) WHERE status = 'open' AND price_type = 'fixed'`,
    );
    await q.query(
      `CREATE INDEX exchange_requests_open_floating_idx ON exchange_requests (premium_bps, id) WHERE status = 'open' AND price_type = 'floating'`,
    );
    await q.query(`CREATE INDEX exchange_requests_traveler_idx ON exchange_requests (traveler_id, created_at, id)`);
    // Listings leave out suspended makers with a hashed anti-join on this small set.
    await q.query(`CREATE INDEX users_suspended_idx ON users (id) WHERE suspended_at IS NOT NULL`);
    await q.query(`CREATE INDEX exchange_requests_expiry_idx ON exchange_requests (expires_at) WHERE status IN ('open', 'filled')`);

    await q.query(`
      CREATE TABLE offers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        counterparty_id uuid NOT NULL REFERENCES users (id),
        min_cny bigint NOT NULL CHECK (min_cny > 0),
        max_cny bigint NOT NULL,
        total_cny bigint NOT NULL,
        available_cny bigint NOT NULL CHECK (available_cny >= 0),
        price_type text NOT NULL CHECK (price_type IN ('fixed', 'floating')),
        fixed_rate bigint CHECK (fixed_rate > 0),
        premium_bps integer,
        payment_methods text[] NOT NULL CHECK (cardinality(payment_methods) > 0 AND payment_methods <@ ARRAY['paypal', 'bank_transfer']),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'closed', 'exhausted')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (max_cny >= min_cny AND total_cny >= min_cny AND available_cny <= total_cny),
        CHECK ((price_type = 'fixed') = (fixed_rate IS NOT NULL) AND (price_type = 'floating') = (premium_bps IS NOT NULL))
      )`);
    // Best first for travelers is the highest rate: the indexes are read backwards or forwards alike.
    await q.query(`CREATE INDEX offers_active_fixed_idx ON offers (fixed_rate DESC, id) WHERE status = 'active' AND price_type = 'fixed'`);
    await q.query(
      `CREATE INDEX offers_active_floating_idx ON offers (premium_bps DESC, id) WHERE status = 'active' AND price_type = 'floating'`,
    );
    await q.query(`CREATE INDEX offers_counterparty_idx ON offers (counterparty_id, created_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['offers', 'exchange_requests', 'reference_rates']) await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}
