import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The checks of a trade opened by one statement in autocommit (`TradeOpeningRepository.openAtOnce`), between the
 * reservation that locks its source row and the writes: both parties' rows locked in id order and found as the
 * service read them before deciding, their limits counted after those locks, and the Idempotency-Key claim marked
 * as `IdempotencyFence` marks it at a commit. A function, because each of its statements takes a fresh snapshot
 * (it is VOLATILE, at READ COMMITTED): what it counts after waiting for a lock includes what the lock's holder
 * committed, which the calling statement's own snapshot, taken before that wait, would miss.
 *
 * It answers true or raises, so the whole statement rolls back: SQLSTATE YB001 when the source could not give the
 * amount or anything the decision rested on changed since it was read (the service then decides again under
 * its locks), YB002 when the claim is no longer this request's.
 */
export class TradeOpeningGuard1764000000041 implements MigrationInterface {
  name = 'TradeOpeningGuard1764000000041';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION trade_opening_guard(
        reserved integer,
        party_ids uuid[],
        tiers integer[],
        wechat_ciphertexts text[],
        wechat_key_ids text[],
        wechat_indexes text[],
        paypal_ciphertexts text[],
        paypal_key_ids text[],
        paypal_indexes text[],
        max_volume_cents bigint[],
        max_live integer[],
        claim_owner uuid,
        claim_key text,
        claim_id uuid
      ) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        party record;
        found_parties integer := 0;
        i integer;
      BEGIN
        IF reserved <> 1 THEN
          RAISE EXCEPTION 'trade opening: the source cannot give the amount' USING ERRCODE = 'YB001';
        END IF;
        FOR party IN
          SELECT u.id, u.tier, u.suspended_at IS NOT NULL AS suspended, u.wechat_id_ciphertext, u.wechat_id_key_id, u.wechat_id_index,
                 u.paypal_email_ciphertext, u.paypal_email_key_id, u.paypal_email_index
            FROM users u WHERE u.id = ANY(party_ids) ORDER BY u.id FOR UPDATE OF u
        LOOP
          i := array_position(party_ids, party.id);
          IF party.suspended OR party.tier <> tiers[i]
             OR party.wechat_id_ciphertext IS DISTINCT FROM wechat_ciphertexts[i] OR party.wechat_id_key_id IS DISTINCT FROM wechat_key_ids[i]
             OR party.wechat_id_index IS DISTINCT FROM wechat_indexes[i]
             OR party.paypal_email_ciphertext IS DISTINCT FROM paypal_ciphertexts[i] OR party.paypal_email_key_id IS DISTINCT FROM paypal_key_ids[i]
             OR party.paypal_email_index IS DISTINCT FROM paypal_indexes[i] THEN
            RAISE EXCEPTION 'trade opening: a party changed' USING ERRCODE = 'YB001';
          END IF;
          found_parties := found_parties + 1;
        END LOOP;
        IF found_parties <> cardinality(party_ids) THEN
          RAISE EXCEPTION 'trade opening: a party is missing' USING ERRCODE = 'YB001';
        END IF;
        -- Counted after the locks, by statements of their own: what the trade's limits are checked against.
        FOR i IN 1 .. cardinality(party_ids) LOOP
          IF coalesce((SELECT l.live FROM user_live_trades l WHERE l.user_id = party_ids[i]), 0) > max_live[i]
             OR coalesce((SELECT v.usd_cents FROM user_daily_volume v
                           WHERE v.user_id = party_ids[i] AND v.day = (now() AT TIME ZONE 'UTC')::date), 0) > max_volume_cents[i] THEN
            RAISE EXCEPTION 'trade opening: a limit would be passed' USING ERRCODE = 'YB001';
          END IF;
        END LOOP;
        IF claim_id IS NOT NULL THEN
          UPDATE idempotency_keys SET effect_committed_at = coalesce(effect_committed_at, now())
           WHERE owner_id = claim_owner AND key = claim_key AND idempotency_keys.claim_id = trade_opening_guard.claim_id AND state = 'in_progress';
          IF NOT FOUND THEN
            RAISE EXCEPTION 'trade opening: the Idempotency-Key claim was taken over' USING ERRCODE = 'YB002';
          END IF;
        END IF;
        RETURN true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `DROP FUNCTION trade_opening_guard(integer, uuid[], integer[], text[], text[], text[], text[], text[], text[], bigint[], integer[], uuid, text, uuid)`,
    );
  }
}
