import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deleted accounts and the erasure of personal text.
 *
 * `users.deleted_at`: a deleted account keeps its row (trades, the ledger and reputation point at it) with its
 * email replaced by a placeholder, its display name by "Deleted user", and no payment handles (a `CHECK`). The
 * principal-change notification now also fires when it is set, so every process drops the cached principal
 * and a token of the account is refused at its next call.
 *
 * `dispute_statements` stay append-only with one exception, enforced by the same trigger: the text of a statement
 * whose author is deleted may be erased (text set to null, `erased_at` set, attachment names nulled), once, and
 * nothing else about it may change. Every other UPDATE and every DELETE is still refused.
 *
 * `account_events` likewise: the address a deleted user changed a handle from may be erased (`ip` set to null),
 * nothing else.
 */
export class AccountErasure1764000000025 implements MigrationInterface {
  name = 'AccountErasure1764000000025';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN deleted_at timestamptz`);
    await q.query(
      `ALTER TABLE users ADD CONSTRAINT users_deleted_has_no_handles
         CHECK (deleted_at IS NULL OR (wechat_id_ciphertext IS NULL AND paypal_email_ciphertext IS NULL))`,
    );
    await q.query(`DROP TRIGGER users_principal_changed ON users`);
    await q.query(`
      CREATE TRIGGER users_principal_changed AFTER UPDATE ON users FOR EACH ROW
        WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.tier IS DISTINCT FROM NEW.tier
              OR OLD.suspended_at IS DISTINCT FROM NEW.suspended_at OR OLD.id IS DISTINCT FROM NEW.id
              OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
        EXECUTE FUNCTION notify_principal_changed()`);

    await q.query(`ALTER TABLE dispute_statements ALTER COLUMN text DROP NOT NULL, ADD COLUMN erased_at timestamptz`);
    await q.query(
      `ALTER TABLE dispute_statements ADD CONSTRAINT dispute_statements_erased CHECK ((text IS NULL) = (erased_at IS NOT NULL))`,
    );
    await q.query(`
      CREATE FUNCTION dispute_statements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          IF OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL AND NEW.text IS NULL
             AND NEW.id = OLD.id AND NEW.dispute_id = OLD.dispute_id AND NEW.author_kind = OLD.author_kind
             AND NEW.author_id IS NOT DISTINCT FROM OLD.author_id AND NEW.created_at = OLD.created_at
             AND NEW.attachments = (SELECT coalesce(jsonb_agg(a.e || '{"name": null}'::jsonb ORDER BY a.o), '[]'::jsonb)
                                      FROM jsonb_array_elements(OLD.attachments) WITH ORDINALITY AS a(e, o))
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.author_id AND u.deleted_at IS NOT NULL) THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION '% is append-only (a deleted author''s text can only be erased)', TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`DROP TRIGGER dispute_statements_append_only ON dispute_statements`);
    await q.query(
      `CREATE TRIGGER dispute_statements_append_only BEFORE UPDATE OR DELETE ON dispute_statements
         FOR EACH ROW EXECUTE FUNCTION dispute_statements_append_only()`,
    );

    await q.query(`
      CREATE FUNCTION account_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.ip IS NOT NULL AND NEW.ip IS NULL
           AND (to_jsonb(NEW) - 'ip') = (to_jsonb(OLD) - 'ip')
           AND EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.user_id AND u.deleted_at IS NOT NULL) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION '% is append-only (a deleted user''s address can only be erased)', TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`DROP TRIGGER account_events_append_only ON account_events`);
    await q.query(
      `CREATE TRIGGER account_events_append_only BEFORE UPDATE OR DELETE ON account_events
         FOR EACH ROW EXECUTE FUNCTION account_events_append_only()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER account_events_append_only ON account_events`);
    await q.query(`DROP FUNCTION account_events_append_only()`);
    await q.query(
      `CREATE TRIGGER account_events_append_only BEFORE UPDATE OR DELETE ON account_events FOR EACH ROW EXECUTE FUNCTION refuse_change()`,
    );
    await q.query(`DROP TRIGGER dispute_statements_append_only ON dispute_statements`);
    await q.query(`DROP FUNCTION dispute_statements_append_only()`);
    await q.query(
      `CREATE TRIGGER dispute_statements_append_only BEFORE UPDATE OR DELETE ON dispute_statements FOR EACH ROW EXECUTE FUNCTION refuse_change()`,
    );
    await q.query(`ALTER TABLE dispute_statements DROP CONSTRAINT dispute_statements_erased, DROP COLUMN erased_at`);
    await q.query(`DROP TRIGGER users_principal_changed ON users`);
    await q.query(`
      CREATE TRIGGER users_principal_changed AFTER UPDATE ON users FOR EACH ROW
        WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.tier IS DISTINCT FROM NEW.tier
              OR OLD.suspended_at IS DISTINCT FROM NEW.suspended_at OR OLD.id IS DISTINCT FROM NEW.id)
        EXECUTE FUNCTION notify_principal_changed()`);
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_deleted_has_no_handles, DROP COLUMN deleted_at`);
  }
}
