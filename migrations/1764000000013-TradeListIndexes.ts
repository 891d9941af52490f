import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The operators' trade list, newest first, with or without a state: an index walk of one page however many
 * trades there are. (A party's own list walks trades_traveler_idx and trades_counterparty_idx.)
 */
export class TradeListIndexes1764000000013 implements MigrationInterface {
  name = 'TradeListIndexes1764000000013';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX trades_created_idx ON trades (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX trades_state_created_idx ON trades (state, created_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX trades_state_created_idx`);
    await q.query(`DROP INDEX trades_created_idx`);
  }
}
