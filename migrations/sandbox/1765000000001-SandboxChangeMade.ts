import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sandbox_change_made(n)`: true when a mock's change written in one statement applied (n > 0 rows), else it raises
 * YBS01, which undoes the whole statement. A mock writes a change with its outbox rows (its webhooks) in one statement
 * sent in autocommit, no transaction around it; an outbox row cannot be made conditional on the change by itself, so
 * the statement fails as a whole when the change did not apply (an order no longer in the state it was read in, a
 * PayPal-Request-Id that has its answer already) and the mock then reads why.
 */
export class SandboxChangeMade1765000000001 implements MigrationInterface {
  name = 'SandboxChangeMade1765000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION sandbox_change_made(n bigint) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        IF n > 0 THEN
          RETURN true;
        END IF;
        RAISE EXCEPTION 'the change did not apply' USING ERRCODE = 'YBS01';
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS sandbox_change_made(bigint)`);
  }
}
