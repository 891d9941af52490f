import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The retention sweep (`MessageRetentionRepository.eraseDue`) walks the texts still kept, oldest first, and looks
 * each one's trade up by its key: its cost follows the texts not yet erased, not every trade that ever ended. Erased
 * rows leave the index.
 */
export class MessageRetentionIndex1764000000038 implements MigrationInterface {
  name = 'MessageRetentionIndex1764000000038';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX trade_messages_unerased_idx ON trade_messages (seq) INCLUDE (trade_id) WHERE erased_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS trade_messages_unerased_idx`);
  }
}
