import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Whether each provider is failing, fed by the adapters' outcomes: the deadlines that depend on a provider
 * never run out while it is down, and are extended by the outage once it recovers.
 */
export class ProviderHealth1764000000011 implements MigrationInterface {
  name = 'ProviderHealth1764000000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE provider_health (
        provider text PRIMARY KEY CHECK (provider IN ('paypal', 'bank', 'wechat')),
        consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
        -- The first failure of the current run: an outage counts from here once it is one.
        failing_since timestamptz,
        down_since timestamptz,
        -- Set while the deadlines of an ended outage are being extended; the provider counts as down until done.
        recovering_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO provider_health (provider) VALUES ('paypal'), ('bank'), ('wechat')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS provider_health`);
  }
}
