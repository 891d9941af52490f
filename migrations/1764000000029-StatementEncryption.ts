import { MigrationInterface, QueryRunner } from 'typeorm';

/** The columns of a statement's personal text: changed only by erasure and by key rotation. */
const SEALED = `ARRAY['text_ciphertext', 'text_key_id', 'attachment_names_ciphertext', 'attachment_names_key_id', 'erased_at']`;

/**
 * Dispute statements encrypted at rest, like payment handles (see src/disputes/statement-content.ts): the text in
 * `text_ciphertext`/`text_key_id`, the attachments' file names as one JSON array in
 * `attachment_names_ciphertext`/`attachment_names_key_id` (null without attachments); `attachments` keeps only
 * their type, size and hash. The clear `text` column is dropped.
 *
 * A migration holds no key, so it cannot encrypt the statements already written: it refuses to run while any
 * statement has text in clear (none has been written outside development; a development database holding some is
 * recreated). Erased statements carry no text and migrate as they are.
 *
 * The append-only trigger now allows two changes, nothing else about a statement ever changing:
 * - erasure of a deleted author's statement, once: both ciphertexts and key ids set to null, `erased_at` set;
 * - key rotation (`rotate-keys`): a value re-encrypted under another key id. The database cannot see that the
 *   plaintext stays the same; a new key id is the only way a ciphertext may change.
 */
export class StatementEncryption1764000000029 implements MigrationInterface {
  name = 'StatementEncryption1764000000029';

  async up(q: QueryRunner): Promise<void> {
    const [{ n }] = await q.query(`SELECT count(*)::int AS n FROM dispute_statements WHERE text IS NOT NULL`);
    if (n > 0) {
      throw new Error(
        `dispute_statements holds ${n} statement(s) in clear, which a migration cannot encrypt (it has no key): ` +
          'recreate the development database',
      );
    }
    await q.query(
      `ALTER TABLE dispute_statements
         ADD COLUMN text_ciphertext text, ADD COLUMN text_key_id text,
         ADD COLUMN attachment_names_ciphertext text, ADD COLUMN attachment_names_key_id text`,
    );
    await q.query(`ALTER TABLE dispute_statements DROP CONSTRAINT dispute_statements_erased, DROP COLUMN text`);
    // Erased statements nulled their names inside `attachments`: names live in their own column now.
    await q.query(`ALTER TABLE dispute_statements DISABLE TRIGGER dispute_statements_append_only`);
    await q.query(
      `UPDATE dispute_statements
          SET attachments = (SELECT coalesce(jsonb_agg(a.e - 'name' ORDER BY a.o), '[]'::jsonb)
                               FROM jsonb_array_elements(attachments) WITH ORDINALITY AS a(e, o))`,
    );
    await q.query(`ALTER TABLE dispute_statements ENABLE TRIGGER dispute_statements_append_only`);
    await q.query(
      `ALTER TABLE dispute_statements
         ADD CONSTRAINT dispute_statements_text_sealed CHECK ((text_ciphertext IS NULL) = (text_key_id IS NULL)),
         ADD CONSTRAINT dispute_statements_names_sealed
           CHECK ((attachment_names_ciphertext IS NULL) = (attachment_names_key_id IS NULL)),
         ADD CONSTRAINT dispute_statements_erased CHECK ((text_ciphertext IS NULL) = (erased_at IS NOT NULL)),
         ADD CONSTRAINT dispute_statements_erased_names CHECK (erased_at IS NULL OR attachment_names_ciphertext IS NULL)`,
    );
    await q.query(`
      CREATE OR REPLACE FUNCTION dispute_statements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.erased_at IS NULL AND (to_jsonb(NEW) - ${SEALED}) = (to_jsonb(OLD) - ${SEALED}) THEN
          IF NEW.erased_at IS NOT NULL AND NEW.text_ciphertext IS NULL AND NEW.text_key_id IS NULL
             AND NEW.attachment_names_ciphertext IS NULL AND NEW.attachment_names_key_id IS NULL
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.author_id AND u.deleted_at IS NOT NULL) THEN
            RETURN NEW;
          END IF;
          IF NEW.erased_at IS NULL
             AND (NEW.text_key_id <> OLD.text_key_id OR NEW.attachment_names_key_id <> OLD.attachment_names_key_id)
             AND ((NEW.text_ciphertext = OLD.text_ciphertext AND NEW.text_key_id = OLD.text_key_id)
                  OR (NEW.text_ciphertext IS NOT NULL AND NEW.text_key_id <> OLD.text_key_id))
             AND ((NEW.attachment_names_ciphertext IS NOT DISTINCT FROM OLD.attachment_names_ciphertext
                   AND NEW.attachment_names_key_id IS NOT DISTINCT FROM OLD.attachment_names_key_id)
                  OR (NEW.attachment_names_ciphertext IS NOT NULL AND NEW.attachment_names_key_id <> OLD.attachment_names_key_id)) THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION '% is append-only (a deleted author''s text can only be erased, a value only re-encrypted under another key)',
          TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    const [{ n }] = await q.query(`SELECT count(*)::int AS n FROM dispute_statements WHERE text_ciphertext IS NOT NULL`);
    if (n > 0) throw new Error(`dispute_statements holds ${n} encrypted statement(s), which a migration cannot decrypt`);
    await q.query(`
      CREATE OR REPLACE FUNCTION dispute_statements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
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
    await q.query(
      `ALTER TABLE dispute_statements
         DROP CONSTRAINT dispute_statements_erased_names, DROP CONSTRAINT dispute_statements_erased,
         DROP CONSTRAINT dispute_statements_names_sealed, DROP CONSTRAINT dispute_statements_text_sealed`,
    );
    await q.query(`ALTER TABLE dispute_statements DISABLE TRIGGER dispute_statements_append_only`);
    await q.query(
      `UPDATE dispute_statements
          SET attachments = (SELECT coalesce(jsonb_agg(a.e || '{"name": null}'::jsonb ORDER BY a.o), '[]'::jsonb)
                               FROM jsonb_array_elements(attachments) WITH ORDINALITY AS a(e, o))`,
    );
    await q.query(`ALTER TABLE dispute_statements ENABLE TRIGGER dispute_statements_append_only`);
    await q.query(
      `ALTER TABLE dispute_statements
         DROP COLUMN text_ciphertext, DROP COLUMN text_key_id, DROP COLUMN attachment_names_ciphertext, DROP COLUMN attachment_names_key_id,
         ADD COLUMN text text,
         ADD CONSTRAINT dispute_statements_erased CHECK ((text IS NULL) = (erased_at IS NOT NULL))`,
    );
  }
}
