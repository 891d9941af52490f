import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A payout PayPal returned (unclaimed, then sent back), or a bank refund the traveler's bank sent back, is
 * booked back and paid again by an operator's retry: which attempt each is at, and whether it came back.
 */
export class PayoutReturns1764000000008 implements MigrationInterface {
  name = 'PayoutReturns1764000000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE trade_fundings ADD COLUMN payout_attempt integer NOT NULL DEFAULT 1 CHECK (payout_attempt >= 1),
                                  ADD COLUMN payout_returned boolean NOT NULL DEFAULT false,
                                  ADD COLUMN refund_attempt integer NOT NULL DEFAULT 1 CHECK (refund_attempt >= 1),
                                  ADD COLUMN refund_returned boolean NOT NULL DEFAULT false`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trade_fundings DROP COLUMN IF EXISTS payout_attempt, DROP COLUMN IF EXISTS payout_returned,
                    DROP COLUMN IF EXISTS refund_attempt, DROP COLUMN IF EXISTS refund_returned`);
  }
}
