import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Settlement as explicit steps. `settlement_steps` is the journal of each provider step of each trade (one row per
 * step and attempt): its request id, when it started, whether it is waiting on the provider, done or failing, and
 * what the provider called it. A step that has waited past its bound flags the trade; an outcome that arrives after
 * the end (an unclaimed payout, a bank return) is a `watch_*` step, polled until final.
 *
 * One settlement of a trade at a time: a claim on the trade's funding row (`settlement_claim`, a random token, and
 * its lease), taken by a conditional update and renewed before every provider call. A worker that dies holding it
 * leaves it to lapse.
 */
export class SettlementSteps1764000000017 implements MigrationInterface {
  name = 'SettlementSteps1764000000017';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE trade_fundings
        ADD COLUMN settlement_claim uuid,
        ADD COLUMN settlement_claimed_until timestamptz,
        ADD CONSTRAINT trade_fundings_claim_whole CHECK ((settlement_claim IS NULL) = (settlement_claimed_until IS NULL))`);
    await q.query(`
      CREATE TABLE settlement_steps (
        trade_id uuid NOT NULL REFERENCES trades (id),
        step text NOT NULL CHECK (step IN ('capture', 'void', 'refund', 'bank_return', 'payout', 'watch_payout', 'watch_bank_return')),
        attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
        request_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('running', 'waiting', 'failing', 'done')),
        provider_ref text,
        last_error text,
        -- A step waiting or failing since before this flags its trade; null for a step that never flags.
        flag_after timestamptz,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        PRIMARY KEY (trade_id, step, attempt),
        CHECK ((status = 'done') = (finished_at IS NOT NULL))
      )`);
    // The sweeper's and the flagger's reads: unfinished steps only, oldest first.
    await q.query(`CREATE INDEX settlement_steps_unfinished_idx ON settlement_steps (updated_at) WHERE status <> 'done'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE settlement_steps`);
    await q.query(`ALTER TABLE trade_fundings DROP CONSTRAINT trade_fundings_claim_whole`);
    await q.query(`ALTER TABLE trade_fundings DROP COLUMN settlement_claimed_until, DROP COLUMN settlement_claim`);
  }
}
