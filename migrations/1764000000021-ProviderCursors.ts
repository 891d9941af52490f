import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How far the platform has read a provider's own listings: the bank's settled incoming transfers are read by
 * settlement time from here on, so money whose callback was lost, with a reference no trade polls for, is still
 * taken by the books.
 */
export class ProviderCursors1764000000021 implements MigrationInterface {
  name = 'ProviderCursors1764000000021';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE provider_cursors (
        name text PRIMARY KEY,
        position timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE provider_cursors`);
  }
}
