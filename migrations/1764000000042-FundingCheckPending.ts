import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One funding check per burst of PayPal webhooks. `check_requests` counts the webhooks that asked for a check;
 * `check_pending_job` names the check one of them queued, set until a check that saw it set finishes with no
 * request counted since it read the row (one that did runs again), so a webhook that finds it set queues nothing
 * and no webhook is left unchecked. `check_pending_since` dates it for the provider-work sweep.
 */
export class FundingCheckPending1764000000042 implements MigrationInterface {
  name = 'FundingCheckPending1764000000042';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE trade_fundings ADD COLUMN check_requests bigint NOT NULL DEFAULT 0,
         ADD COLUMN check_pending_job text, ADD COLUMN check_pending_since timestamptz`,
    );
    await q.query(
      `ALTER TABLE trade_fundings ADD CONSTRAINT trade_fundings_check_pending_check
         CHECK ((check_pending_job IS NULL) = (check_pending_since IS NULL))`,
    );
    // The provider-work sweep's page of pending checks: few rows at any time, found without reading every funding.
    await q.query(`CREATE INDEX trade_fundings_check_pending_idx ON trade_fundings (trade_id) WHERE check_pending_job IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS trade_fundings_check_pending_idx`);
    await q.query(`ALTER TABLE trade_fundings DROP CONSTRAINT IF EXISTS trade_fundings_check_pending_check`);
    await q.query(
      `ALTER TABLE trade_fundings DROP COLUMN IF EXISTS check_pending_since, DROP COLUMN IF EXISTS check_pending_job,
         DROP COLUMN IF EXISTS check_requests`,
    );
  }
}
