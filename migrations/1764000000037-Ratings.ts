import { MigrationInterface, QueryRunner } from 'typeorm';

/** The columns of a rating's comment: changed only by erasure and by key rotation. */
const SEALED = `ARRAY['comment_ciphertext', 'comment_key_id', 'comment_erased_at']`;

/**
 * Trade ratings: one per party per trade, once the trade has ended `completed`, `refunded` or `settled_split`,
 * of the other party (src/ratings/). The score counts into the rated user's `user_reputation` in the same
 * transaction; the list of a user's ratings and the reputation never scan each other.
 *
 * The comment is personal text, encrypted at rest like dispute statements (`comment_ciphertext`/`comment_key_id`,
 * context `ratings.comment`, in ENCRYPTED_COLUMNS). Its 500 characters cannot be counted under encryption: the
 * bound is on the ciphertext, base64 of 12 + 16 bytes and at most 2000 bytes of UTF-8 (500 characters of 4 bytes).
 *
 * `created_at` is kept to the millisecond, the precision of the list's cursor, so its index serves the order.
 *
 * A trigger checks each new rating against its trade (ended as above, rater and rated its two parties, the rater's
 * role as on the trade), and keeps ratings append-only but for two changes: the erasure of a deleted rater's
 * comment (ciphertext and key id null, `comment_erased_at` set, once) and a re-encryption under another key id.
 */
export class Ratings1764000000037 implements MigrationInterface {
  name = 'Ratings1764000000037';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ratings (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        trade_id uuid NOT NULL REFERENCES trades (id),
        rater_id uuid NOT NULL REFERENCES users (id),
        rated_id uuid NOT NULL REFERENCES users (id),
        rater_role text NOT NULL CONSTRAINT ratings_rater_role CHECK (rater_role IN ('traveler', 'counterparty')),
        score smallint NOT NULL CONSTRAINT ratings_score CHECK (score BETWEEN 1 AND 5),
        comment_ciphertext text,
        comment_key_id text,
        comment_erased_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        CONSTRAINT ratings_one_per_party UNIQUE (trade_id, rater_id),
        CONSTRAINT ratings_not_self CHECK (rated_id <> rater_id),
        CONSTRAINT ratings_comment_sealed CHECK ((comment_ciphertext IS NULL) = (comment_key_id IS NULL)),
        CONSTRAINT ratings_comment_length CHECK (octet_length(comment_ciphertext) <= 2704),
        CONSTRAINT ratings_comment_erased CHECK (comment_erased_at IS NULL OR comment_ciphertext IS NULL),
        CONSTRAINT ratings_created_to_the_millisecond CHECK (created_at = date_trunc('milliseconds', created_at))
      )`);
    await q.query(`CREATE INDEX ratings_received ON ratings (rated_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX ratings_given ON ratings (rater_id, created_at, id)`);

    await q.query(`
      CREATE FUNCTION ratings_of_ended_trades() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        t record;
      BEGIN
        SELECT state, traveler_id, counterparty_id INTO t FROM trades WHERE id = NEW.trade_id;
        IF t.state IN ('completed', 'refunded', 'settled_split')
           AND ((NEW.rater_role = 'traveler' AND NEW.rater_id = t.traveler_id AND NEW.rated_id = t.counterparty_id)
             OR (NEW.rater_role = 'counterparty' AND NEW.rater_id = t.counterparty_id AND NEW.rated_id = t.traveler_id)) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'a rating is by one party of an ended trade, of the other' USING ERRCODE = 'check_violation';
      END $$`);
    await q.query(
      `CREATE TRIGGER ratings_of_ended_trades BEFORE INSERT ON ratings FOR EACH ROW EXECUTE FUNCTION ratings_of_ended_trades()`,
    );

    await q.query(`
      CREATE FUNCTION ratings_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.comment_erased_at IS NULL AND (to_jsonb(NEW) - ${SEALED}) = (to_jsonb(OLD) - ${SEALED}) THEN
          IF NEW.comment_erased_at IS NOT NULL AND NEW.comment_ciphertext IS NULL AND NEW.comment_key_id IS NULL
             AND OLD.comment_ciphertext IS NOT NULL
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.rater_id AND u.deleted_at IS NOT NULL) THEN
            RETURN NEW;
          END IF;
          IF NEW.comment_erased_at IS NULL AND NEW.comment_ciphertext IS NOT NULL AND NEW.comment_key_id <> OLD.comment_key_id THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION '% is append-only (a deleted rater''s comment can only be erased, a comment only re-encrypted under another key)',
          TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(
      `CREATE TRIGGER ratings_append_only BEFORE UPDATE OR DELETE ON ratings FOR EACH ROW EXECUTE FUNCTION ratings_append_only()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ratings`);
    await q.query(`DROP FUNCTION ratings_append_only()`);
    await q.query(`DROP FUNCTION ratings_of_ended_trades()`);
  }
}
