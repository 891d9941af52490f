import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event's fan-out made durable, and a replay anchor in commit order. `fanned_out_at` is set once every sink took
 * the event; the fan-out sweep queues again any event still without it after a grace period. `stream_seq` is taken
 * by the fan-out job, after the event's commit, one job at a time (`EventsRepository.number`): streams replay by it,
 * so an event committed late still sorts after every event a client was sent before it. Events already recorded are
 * numbered in their recording order and taken as fanned out (their jobs ran, or still run and find them numbered).
 */
export class EventFanOut1764000000039 implements MigrationInterface {
  name = 'EventFanOut1764000000039';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE events_stream_seq`);
    await q.query(`ALTER TABLE events ADD COLUMN fanned_out_at timestamptz, ADD COLUMN stream_seq bigint UNIQUE`);
    await q.query(`
      UPDATE events e SET stream_seq = numbered.n, fanned_out_at = e.created_at
        FROM (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM events) numbered
       WHERE numbered.id = e.id`);
    await q.query(`SELECT setval('events_stream_seq', coalesce((SELECT max(stream_seq) FROM events), 0) + 1, false)`);
    await q.query(
      `CREATE INDEX events_trade_stream_seq ON events (trade_id, stream_seq) WHERE trade_id IS NOT NULL AND stream_seq IS NOT NULL`,
    );
    await q.query(`CREATE INDEX events_not_fanned_out ON events (created_at) WHERE fanned_out_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS events_not_fanned_out`);
    await q.query(`DROP INDEX IF EXISTS events_trade_stream_seq`);
    await q.query(`ALTER TABLE events DROP COLUMN stream_seq, DROP COLUMN fanned_out_at`);
    await q.query(`DROP SEQUENCE events_stream_seq`);
  }
}
