import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A reconciliation run says it is alive every few seconds: a run whose process died is taken as dead a short lease
 * after its last sign (not half an hour after it started), and a long run that is still working is never taken as dead.
 */
export class ReconciliationHeartbeat1764000000022 implements MigrationInterface {
  name = 'ReconciliationHeartbeat1764000000022';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reconciliation_runs ADD COLUMN alive_at timestamptz NOT NULL DEFAULT now()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reconciliation_runs DROP COLUMN alive_at`);
  }
}
