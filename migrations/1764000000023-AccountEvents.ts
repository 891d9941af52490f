import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Security events of an account, for operators: every change of a payment handle (which one, when, from which
 * address; never the value, not even its blind index), every trade refused as a self-trade (the request or offer
 * it was asked on), and the flag raised once refusals pile up. Changes are counted from here for their rate limit.
 * Append-only, like the audit log.
 */
export class AccountEvents1764000000023 implements MigrationInterface {
  name = 'AccountEvents1764000000023';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE account_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id),
        kind text NOT NULL CHECK (kind IN ('handle_changed', 'self_trade_refused', 'self_trade_flagged')),
        field text CHECK (field IN ('wechat_id', 'paypal_email')),
        target_type text CHECK (target_type IN ('request', 'offer')),
        target_id uuid,
        ip text CHECK (length(ip) <= 64),
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK ((kind = 'handle_changed') = (field IS NOT NULL)),
        CHECK ((kind = 'self_trade_refused') = (target_type IS NOT NULL AND target_id IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX account_events_user_idx ON account_events (user_id, kind, at)`);
    // One flag per user: raised once, seen by operators from then on.
    await q.query(`CREATE UNIQUE INDEX account_events_one_flag ON account_events (user_id) WHERE kind = 'self_trade_flagged'`);
    await q.query(
      `CREATE TRIGGER account_events_append_only BEFORE UPDATE OR DELETE ON account_events FOR EACH ROW EXECUTE FUNCTION refuse_change()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE account_events`);
  }
}
