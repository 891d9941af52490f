import { MigrationInterface, QueryRunner } from 'typeorm';

/** The provider mocks' tables, which the main chain made before the sandbox had a chain of its own. */
const SANDBOX_TABLES = [
  'paypal_mock_refunds',
  'paypal_mock_captures',
  'paypal_mock_authorizations',
  'paypal_mock_orders',
  'paypal_mock_payout_items',
  'paypal_mock_payout_batches',
  'paypal_mock_tokens',
  'paypal_mock_transmissions',
  'paypal_mock_replays',
  'bank_mock_transfers',
  'bank_mock_accounts',
  'wechat_mock_transfers',
  'wechat_mock_wallets',
  'sandbox_faults',
  'sandbox_keys',
];

/**
 * The mocks' tables leave the main chain: from here on the sandbox chain (`migrations/sandbox/`, run only in sandbox
 * mode) makes and changes them, and the main chain never touches them again. Earlier migrations cannot be edited, so
 * a new database still gets them from SandboxPaypal, BankTransfer and SandboxWechat; this drops them, but only when
 * every one of them is empty: a database that never ran the sandbox (production's) ends without them, and a
 * sandbox that has been used keeps its state. Dropping only empty tables loses nothing: in sandbox mode the sandbox
 * chain, which runs right after this one under the same lock, makes them again the same.
 */
export class SandboxTablesOut1764000000033 implements MigrationInterface {
  name = 'SandboxTablesOut1764000000033';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      DECLARE
        tables text[] := ARRAY['${SANDBOX_TABLES.join("', '")}'];
        present text[];
        t text;
        has_rows boolean;
      BEGIN
        SELECT array_agg(name) INTO present FROM unnest(tables) AS name WHERE to_regclass(name) IS NOT NULL;
        IF present IS NULL THEN
          RETURN;
        END IF;
        -- Nothing writes to them between the look and the drop.
        EXECUTE 'LOCK TABLE ' || (SELECT string_agg(quote_ident(name), ', ') FROM unnest(present) AS name) || ' IN ACCESS EXCLUSIVE MODE';
        FOREACH t IN ARRAY present LOOP
          EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', t) INTO has_rows;
          IF has_rows THEN
            RETURN;
          END IF;
        END LOOP;
        EXECUTE 'DROP TABLE ' || (SELECT string_agg(quote_ident(name), ', ') FROM unnest(present) AS name);
      END
      $$`);
  }

  async down(): Promise<void> {
    // Nothing to restore: the tables it dropped were empty, and in sandbox mode the sandbox chain makes them.
  }
}
