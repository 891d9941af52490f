import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every process keeps the principals of the tokens it sees (role, tier, suspension) for a few seconds. This
 * trigger notifies `principal_changed` with the user's id whenever one of those changes, whatever statement
 * changed it; PostgreSQL delivers the notification at commit, and each process drops its entry.
 */
export class PrincipalChangeNotifications1764000000015 implements MigrationInterface {
  name = 'PrincipalChangeNotifications1764000000015';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION notify_principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('principal_changed', OLD.id::text);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER users_principal_changed AFTER UPDATE ON users FOR EACH ROW
        WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.tier IS DISTINCT FROM NEW.tier
              OR OLD.suspended_at IS DISTINCT FROM NEW.suspended_at OR OLD.id IS DISTINCT FROM NEW.id)
        EXECUTE FUNCTION notify_principal_changed()`);
    await q.query(`CREATE TRIGGER users_principal_deleted AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION notify_principal_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER users_principal_deleted ON users`);
    await q.query(`DROP TRIGGER users_principal_changed ON users`);
    await q.query(`DROP FUNCTION notify_principal_changed()`);
  }
}
