import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event's `stream_seq` taken at its transaction's commit, not by its fan-out job: no commit of its own.
 *
 * Numbers must become visible in the order they are taken (a replay after N never misses one below N once N was
 * seen), so they are taken one at a time under the transaction-level advisory lock `events_stream_seq`, held until
 * the commit is visible (PostgreSQL releases a transaction's locks after its commit is visible to others).
 *
 * The lock is the last one a committing transaction takes (lock order: after the live-trade counters and every
 * other deferred check), in two deferred rounds: the insert's trigger fires at commit among the transaction's other
 * deferred triggers and only queues the numbering (an update of its still unnumbered row); PostgreSQL fires what is
 * queued while firing after everything queued before, so the numbering comes after them whatever order the
 * transaction wrote its rows in. Holding the lock, a transaction only numbers its own new rows (which no other
 * transaction can see, so none can lock them) and commits: it waits for nobody, and closes no cycle.
 *
 * Events still unnumbered (committed before this, their fan-out not run yet) are numbered here, in recording order,
 * after the triggers exist: creating them waited for every transaction writing events, so none is left behind.
 */
export class EventNumberedAtCommit1764000000044 implements MigrationInterface {
  name = 'EventNumberedAtCommit1764000000044';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION queue_event_numbering() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Names the column without changing it: queues events_numbered, after this round of deferred triggers.
        UPDATE events SET stream_seq = NULL WHERE id = NEW.id AND stream_seq IS NULL;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION number_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('events_stream_seq'));
        UPDATE events SET stream_seq = nextval('events_stream_seq') WHERE id = NEW.id AND stream_seq IS NULL;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE CONSTRAINT TRIGGER events_queue_numbering AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.stream_seq IS NULL) EXECUTE FUNCTION queue_event_numbering()`);
    await q.query(`
      CREATE CONSTRAINT TRIGGER events_numbered AFTER UPDATE OF stream_seq ON events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.stream_seq IS NULL) EXECUTE FUNCTION number_event()`);
    await q.query(`SELECT pg_advisory_xact_lock(hashtext('events_stream_seq'))`);
    await q.query(`
      UPDATE events e SET stream_seq = numbered.n
        FROM (SELECT id, nextval('events_stream_seq') AS n
                FROM (SELECT id FROM events WHERE stream_seq IS NULL ORDER BY seq) unnumbered) numbered
       WHERE e.id = numbered.id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER events_numbered ON events`);
    await q.query(`DROP TRIGGER events_queue_numbering ON events`);
    await q.query(`DROP FUNCTION number_event()`);
    await q.query(`DROP FUNCTION queue_event_numbering()`);
  }
}
