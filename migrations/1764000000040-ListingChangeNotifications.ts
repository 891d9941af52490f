import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every API process keeps the first pages of the public listings for `LISTING_CACHE_MS`. These triggers notify
 * `listings_changed` at the commit of any statement that writes offers or exchange requests, whatever statement
 * it is (a posting, a trade's reservation, a cancellation, the expiry sweeper), and each process drops its pages.
 */
export class ListingChangeNotifications1764000000040 implements MigrationInterface {
  name = 'ListingChangeNotifications1764000000040';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION notify_listings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('listings_changed', '');
        RETURN NULL;
      END $$`);
    for (const table of ['offers', 'exchange_requests']) {
      await q.query(
        `CREATE TRIGGER ${table}_listings_changed AFTER INSERT OR UPDATE OR DELETE ON ${table}
           FOR EACH STATEMENT EXECUTE FUNCTION notify_listings_changed()`,
      );
      await q.query(
        `CREATE TRIGGER ${table}_listings_truncated AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION notify_listings_changed()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['offers', 'exchange_requests']) {
      await q.query(`DROP TRIGGER ${table}_listings_truncated ON ${table}`);
      await q.query(`DROP TRIGGER ${table}_listings_changed ON ${table}`);
    }
    await q.query(`DROP FUNCTION notify_listings_changed()`);
  }
}
