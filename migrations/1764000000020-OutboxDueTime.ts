import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An outbox row carries when its job is due (`run_at`), set by PostgreSQL's clock in the statement that writes
 * it, as the deadlines it wakes for are: a delay in an integer of milliseconds stopped at 24.8 days, and counted
 * from the row's `created_at` it could wake a job before the deadline stored beside it.
 */
export class OutboxDueTime1764000000020 implements MigrationInterface {
  name = 'OutboxDueTime1764000000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ADD COLUMN run_at timestamptz`);
    await q.query(`UPDATE outbox SET run_at = created_at + delay_ms * interval '1 millisecond'`);
    await q.query(`ALTER TABLE outbox ALTER COLUMN run_at SET DEFAULT now(), ALTER COLUMN run_at SET NOT NULL`);
    await q.query(`ALTER TABLE outbox DROP COLUMN delay_ms`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ADD COLUMN delay_ms integer NOT NULL DEFAULT 0 CHECK (delay_ms >= 0)`);
    // What no longer fits an integer is cut to the longest delay it holds.
    await q.query(
      `UPDATE outbox SET delay_ms = least(2147483647, greatest(0, ceil(extract(epoch FROM run_at - created_at) * 1000)))::integer`,
    );
    await q.query(`ALTER TABLE outbox DROP COLUMN run_at`);
  }
}
