import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An API key may be limited to reading (`read`) or to trading without managing the account (`trade`), and may
 * expire. Keys made before have neither: full access, no expiry, as they had.
 */
export class ApiKeyScopeAndExpiry1764000000024 implements MigrationInterface {
  name = 'ApiKeyScopeAndExpiry1764000000024';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN scope text CHECK (scope IN ('read', 'trade'))`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN expires_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN expires_at`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN scope`);
  }
}
