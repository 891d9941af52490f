import { MigrationInterface, QueryRunner } from 'typeorm';

/** The columns of a message's text: changed only by erasure and by key rotation. */
const SEALED = `ARRAY['text_ciphertext', 'text_key_id', 'erased_at']`;

/**
 * Trade messages: the two parties' chat about one trade (src/chat). The text is encrypted at rest like payment
 * handles (`text_ciphertext`/`text_key_id`, context `trade_messages.text`); `seq` orders a trade's messages, oldest
 * first, and is the lists' cursor.
 *
 * A message is immutable. The trigger allows two changes, nothing else about a message ever changing, and no delete:
 * - erasure, once: the ciphertext and key id set to null, `erased_at` set; only once its trade has ended (the
 *   retention sweep, MESSAGE_RETENTION_MS after the end) or its sender's account is deleted;
 * - key rotation (`rotate-keys`): the text re-encrypted under another key id. The database cannot see that the
 *   plaintext stays the same; a new key id is the only way the ciphertext may change.
 * An insert must name the trade's own party of that kind as the sender, and a text.
 */
export class TradeMessages1764000000036 implements MigrationInterface {
  name = 'TradeMessages1764000000036';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE trade_messages (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        trade_id uuid NOT NULL REFERENCES trades (id),
        sender_kind text NOT NULL CHECK (sender_kind IN ('traveler', 'counterparty')),
        sender_id uuid NOT NULL REFERENCES users (id),
        text_ciphertext text,
        text_key_id text,
        erased_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT trade_messages_text_sealed CHECK ((text_ciphertext IS NULL) = (text_key_id IS NULL)),
        CONSTRAINT trade_messages_erased CHECK ((text_ciphertext IS NULL) = (erased_at IS NOT NULL))
      )`);
    // A trade's messages in order; a sender's (the export, the erasure of a deleted account); the texts still kept (retention).
    await q.query(`CREATE INDEX trade_messages_trade_idx ON trade_messages (trade_id, seq)`);
    await q.query(`CREATE INDEX trade_messages_sender_idx ON trade_messages (sender_id, seq)`);
    await q.query(`CREATE INDEX trade_messages_kept_idx ON trade_messages (trade_id, seq) WHERE erased_at IS NULL`);

    await q.query(`
      CREATE FUNCTION trade_messages_sender_is_party() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.erased_at IS NULL AND EXISTS (
             SELECT 1 FROM trades t
              WHERE t.id = NEW.trade_id
                AND NEW.sender_id = CASE NEW.sender_kind WHEN 'traveler' THEN t.traveler_id ELSE t.counterparty_id END) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'a trade message is written by that trade''s party of its kind, with a text'
          USING ERRCODE = 'integrity_constraint_violation';
      END $$`);
    await q.query(
      `CREATE TRIGGER trade_messages_sender BEFORE INSERT ON trade_messages FOR EACH ROW EXECUTE FUNCTION trade_messages_sender_is_party()`,
    );
    await q.query(`
      CREATE FUNCTION trade_messages_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.erased_at IS NULL AND (to_jsonb(NEW) - ${SEALED}) = (to_jsonb(OLD) - ${SEALED}) THEN
          IF NEW.erased_at IS NOT NULL AND NEW.text_ciphertext IS NULL AND NEW.text_key_id IS NULL
             AND (EXISTS (SELECT 1 FROM trades t WHERE t.id = OLD.trade_id AND t.ended_at IS NOT NULL)
                  OR EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.sender_id AND u.deleted_at IS NOT NULL)) THEN
            RETURN NEW;
          END IF;
          IF NEW.erased_at IS NULL AND NEW.text_ciphertext IS NOT NULL AND NEW.text_key_id <> OLD.text_key_id THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION '% is immutable (a text can only be erased once its trade ended or its sender is deleted, or re-encrypted under another key)',
          TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(
      `CREATE TRIGGER trade_messages_immutable BEFORE UPDATE OR DELETE ON trade_messages FOR EACH ROW EXECUTE FUNCTION trade_messages_immutable()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS trade_messages`);
    await q.query(`DROP FUNCTION IF EXISTS trade_messages_immutable()`);
    await q.query(`DROP FUNCTION IF EXISTS trade_messages_sender_is_party()`);
  }
}
