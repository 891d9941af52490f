import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An Idempotency-Key claim in progress is a lease: `lease_until` says until when its request may still be
 * running. Past it, a retry of the same request may take the key over, unless the claim's request already
 * committed a change (`effect_committed_at`, set inside that change's own transaction): then running it again
 * could move money twice, so the key keeps answering 409 until it expires.
 */
export class IdempotencyLease1764000000019 implements MigrationInterface {
  name = 'IdempotencyLease1764000000019';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys ADD COLUMN lease_until timestamptz, ADD COLUMN effect_committed_at timestamptz`);
    // Claims left in progress before leases existed: whether their change committed is unknown, so they count as if it had.
    await q.query(`UPDATE idempotency_keys SET lease_until = created_at, effect_committed_at = created_at WHERE state = 'in_progress'`);
    await q.query(
      `ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_lease_check CHECK ((state = 'in_progress') = (lease_until IS NOT NULL))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_lease_check`);
    await q.query(`ALTER TABLE idempotency_keys DROP COLUMN effect_committed_at, DROP COLUMN lease_until`);
  }
}
