import { MigrationInterface, QueryRunner } from 'typeorm';

/** The sandbox WeChat: wallets with CNY balances in fen that never go negative, and wallet-to-wallet transfers. */
export class SandboxWechat1764000000010 implements MigrationInterface {
  name = 'SandboxWechat1764000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wechat_mock_wallets (
        wechat_id text PRIMARY KEY,
        balance_fen bigint NOT NULL CHECK (balance_fen >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE wechat_mock_transfers (
        id text PRIMARY KEY,
        from_wechat_id text NOT NULL REFERENCES wechat_mock_wallets (wechat_id),
        to_wechat_id text NOT NULL REFERENCES wechat_mock_wallets (wechat_id),
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        memo text,
        state text NOT NULL CHECK (state IN ('PROCESSING', 'SUCCESS', 'FAIL')),
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        CHECK (from_wechat_id <> to_wechat_id)
      )`);
    // The search a platform makes for a transfer that was made but never reported: by both wallets, newest first.
    await q.query(`CREATE INDEX wechat_mock_transfers_pair_idx ON wechat_mock_transfers (from_wechat_id, to_wechat_id, create_time DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS wechat_mock_transfers`);
    await q.query(`DROP TABLE IF EXISTS wechat_mock_wallets`);
  }
}
