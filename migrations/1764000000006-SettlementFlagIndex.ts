import { MigrationInterface, QueryRunner } from 'typeorm';

/** Flagged settlements, found without reading every trade: the operators' list and the /metrics gauge. */
export class SettlementFlagIndex1764000000006 implements MigrationInterface {
  name = 'SettlementFlagIndex1764000000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX trades_settlement_failing_idx ON trades (created_at DESC, id DESC) WHERE settlement_failing`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX trades_settlement_failing_idx`);
  }
}
