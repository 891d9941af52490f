import { MigrationInterface, QueryRunner } from 'typeorm';

const STATES = `'awaiting_funding', 'funded', 'payout_sent', 'releasing', 'refunding', 'disputed', 'splitting', 'completed', 'refunded', 'settled_split', 'cancelled', 'expired'`;
const LIVE = `'awaiting_funding', 'funded', 'payout_sent', 'releasing', 'refunding', 'disputed', 'splitting'`;

/** Trades, their reservations of a request's or offer's amount, their timeline, and daily volume per user. */
export class Trades1764000000002 implements MigrationInterface {
  name = 'Trades1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE trades (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        request_id uuid REFERENCES exchange_requests (id),
        offer_id uuid REFERENCES offers (id),
        traveler_id uuid NOT NULL REFERENCES users (id),
        counterparty_id uuid NOT NULL REFERENCES users (id),
        state text NOT NULL CHECK (state IN (${STATES})),
        amount_cny bigint NOT NULL CHECK (amount_cny > 0),
        amount_usd bigint NOT NULL CHECK (amount_usd > 0),
        rate bigint NOT NULL CHECK (rate > 0),
        fee_bps integer NOT NULL CHECK (fee_bps >= 0),
        fee_usd bigint NOT NULL CHECK (fee_usd >= 0),
        payment_method text NOT NULL CHECK (payment_method IN ('paypal', 'bank_transfer')),
        -- Payment handles as they were when the trade was created: a later change of profile never redirects it.
        traveler_wechat_ciphertext text NOT NULL,
        traveler_wechat_key_id text NOT NULL,
        traveler_wechat_index text NOT NULL,
        counterparty_wechat_ciphertext text NOT NULL,
        counterparty_wechat_key_id text NOT NULL,
        counterparty_wechat_index text NOT NULL,
        counterparty_paypal_ciphertext text NOT NULL,
        counterparty_paypal_key_id text NOT NULL,
        counterparty_paypal_index text NOT NULL,
        funding_by timestamptz,
        funded_at timestamptz,
        payout_reported_at timestamptz,
        -- The WeChat transfer the counterparty reported; one transfer settles one trade only.
        wechat_transfer_id text,
        -- An operator's split: the traveler's part is refunded, the counterparty's released less the fee.
        split_traveler_usd bigint CHECK (split_traveler_usd > 0),
        split_counterparty_usd bigint CHECK (split_counterparty_usd > 0),
        payout_by timestamptz,
        verify_by timestamptz,
        dispute_id uuid,
        settlement_failing boolean NOT NULL DEFAULT false,
        -- The UTC day whose volume this trade counts in, so an uncompleted end gives it back to that day.
        volume_day date NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((request_id IS NULL) <> (offer_id IS NULL)),
        CHECK (traveler_id <> counterparty_id),
        CHECK (traveler_wechat_index <> counterparty_wechat_index),
        CHECK (fee_usd <= amount_usd),
        CHECK ((split_traveler_usd IS NULL) = (split_counterparty_usd IS NULL)),
        CHECK (split_traveler_usd IS NULL OR split_traveler_usd + split_counterparty_usd = amount_usd)
      )`);
    await q.query(`CREATE UNIQUE INDEX trades_wechat_transfer_key ON trades (wechat_transfer_id) WHERE wechat_transfer_id IS NOT NULL`);
    await q.query(`CREATE INDEX trades_traveler_idx ON trades (traveler_id, created_at, id)`);
    await q.query(`CREATE INDEX trades_counterparty_idx ON trades (counterparty_id, created_at, id)`);
    // Open-trade limits count these; deadlines sweep these.
    await q.query(`CREATE INDEX trades_live_traveler_idx ON trades (traveler_id) WHERE state IN (${LIVE})`);
    await q.query(`CREATE INDEX trades_live_counterparty_idx ON trades (counterparty_id) WHERE state IN (${LIVE})`);
    await q.query(`CREATE INDEX trades_funding_due_idx ON trades (funding_by) WHERE state = 'awaiting_funding'`);
    await q.query(`CREATE INDEX trades_payout_due_idx ON trades (payout_by) WHERE state = 'funded'`);
    await q.query(`CREATE INDEX trades_request_idx ON trades (request_id) WHERE request_id IS NOT NULL`);
    await q.query(`CREATE INDEX trades_offer_idx ON trades (offer_id) WHERE offer_id IS NOT NULL`);

    // One reservation per trade, returned at most once.
    await q.query(`
      CREATE TABLE trade_reservations (
        trade_id uuid PRIMARY KEY REFERENCES trades (id),
        request_id uuid REFERENCES exchange_requests (id),
        offer_id uuid REFERENCES offers (id),
        amount_cny bigint NOT NULL CHECK (amount_cny > 0),
        returned_at timestamptz,
        CHECK ((request_id IS NULL) <> (offer_id IS NULL))
      )`);

    await q.query(`
      CREATE TABLE trade_events (
        id bigserial PRIMARY KEY,
        trade_id uuid NOT NULL REFERENCES trades (id),
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor_kind text NOT NULL CHECK (actor_kind IN ('traveler', 'counterparty', 'operator', 'system')),
        actor_id uuid,
        type text NOT NULL CHECK (type IN ('state_changed', 'deadline_extended', 'provider_event', 'dispute_statement', 'operator_note', 'handle_revealed')),
        from_state text,
        to_state text,
        detail jsonb NOT NULL DEFAULT '{}',
        CHECK ((type = 'state_changed') = (to_state IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX trade_events_trade_idx ON trade_events (trade_id, id)`);
    await q.query(
      `CREATE TRIGGER trade_events_append_only BEFORE UPDATE OR DELETE ON trade_events FOR EACH ROW EXECUTE FUNCTION refuse_change()`,
    );

    // Daily USD volume per user and UTC day: counted when a trade is created, given back if it ends uncompleted.
    await q.query(`
      CREATE TABLE user_daily_volume (
        user_id uuid NOT NULL REFERENCES users (id),
        day date NOT NULL,
        usd_cents bigint NOT NULL CHECK (usd_cents >= 0),
        PRIMARY KEY (user_id, day)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['user_daily_volume', 'trade_events', 'trade_reservations', 'trades'])
      await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}
