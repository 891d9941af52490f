import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { changedRows } from '../common/database/query';

/** The one change a message may undergo besides key rotation (the table's trigger): its text erased, once. */
const ERASE = `UPDATE trade_messages SET text_ciphertext = NULL, text_key_id = NULL, erased_at = now()`;

/**
 * The erasure of messages' texts: MESSAGE_RETENTION_MS after their trade ended, or when their sender's account is
 * deleted. SQL only (no key needed), so housekeeping and the account deletion provide it where they run.
 */
@Injectable()
export class MessageRetentionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Erases up to `limit` texts of messages whose trade ended at least `retentionMs` ago (by PostgreSQL's clock);
   * returns how many. One statement per batch; rows another transaction holds (a key rotation's batch) are skipped
   * and taken by a later run. Idempotent: an erased text is not taken again.
   */
  async eraseDue(retentionMs: number, limit: number): Promise<number> {
    return changedRows(
      this.dataSource.manager,
      `${ERASE}
        WHERE id IN (SELECT m.id FROM trade_messages m
                      -- The texts still kept, oldest first (trade_messages_unerased_idx), each trade by its key.
                      WHERE m.erased_at IS NULL
                        AND EXISTS (SELECT 1 FROM trades t
                                     WHERE t.id = m.trade_id AND t.ended_at IS NOT NULL
                                       -- A duration in SQL, as a double: 30 days (2.6e9 ms) is past a 32-bit integer.
                                       AND t.ended_at <= now() - $1::double precision * interval '1 millisecond')
                      ORDER BY m.seq
                      LIMIT $2
                      FOR UPDATE OF m SKIP LOCKED)
        RETURNING id`,
      [retentionMs, limit],
    );
  }

  /**
   * Erases, in the caller's transaction (an account's deletion, once its row is marked deleted: the trigger allows
   * it then), the texts of every message the user sent. Waits for the rows' locks; returns how many.
   */
  async eraseSentBy(manager: EntityManager, senderId: string): Promise<number> {
    return changedRows(manager, `${ERASE} WHERE sender_id = $1 AND erased_at IS NULL RETURNING id`, [senderId]);
  }
}
