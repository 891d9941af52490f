import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { EncryptedField } from '../common/crypto/field-encryption';

/** What still ties an account to money or a decision: any of these above zero refuses its deletion. */
export interface StillOwed {
  liveTrades: number;
  unresolvedDisputes: number;
  flaggedTrades: number;
  settlementsRunning: number;
  unfinishedSteps: number;
  suspenseOwed: number;
}

/**
 * The account export's and deletion's own SQL on users and, as a read model, on the tables of trades and
 * settlement (users never import them). Writes take the deletion's manager, so they join its transaction.
 */
@Injectable()
export class AccountPrivacyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The user's own payment handles, encrypted as stored. */
  async handlesOf(userId: string): Promise<{ wechatId: EncryptedField | null; paypalEmail: EncryptedField | null }> {
    const rows: {
      wechat_id_ciphertext: string | null;
      wechat_id_key_id: string | null;
      paypal_email_ciphertext: string | null;
      paypal_email_key_id: string | null;
    }[] = await this.dataSource.query(
      `SELECT wechat_id_ciphertext, wechat_id_key_id, paypal_email_ciphertext, paypal_email_key_id FROM users WHERE id = $1`,
      [userId],
    );
    const row = rows[0];
    return {
      wechatId: row?.wechat_id_ciphertext ? { ciphertext: row.wechat_id_ciphertext, keyId: row.wechat_id_key_id! } : null,
      paypalEmail: row?.paypal_email_ciphertext ? { ciphertext: row.paypal_email_ciphertext, keyId: row.paypal_email_key_id! } : null,
    };
  }

  /** The password hash of an account that is not deleted, or null. */
  async passwordHashOf(userId: string): Promise<string | null> {
    const rows: { password_hash: string }[] = await this.dataSource.query(
      `SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL`,
      [userId],
    );
    return rows[0]?.password_hash ?? null;
  }

  /** The user's traded USD per UTC day (what the tier's daily limit counts), oldest first. */
  async dailyVolumeOf(userId: string): Promise<{ day: string; usdCents: bigint }[]> {
    const rows: { day: string; usd_cents: string }[] = await this.dataSource.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, usd_cents FROM user_daily_volume WHERE user_id = $1 ORDER BY day`,
      [userId],
    );
    return rows.map((r) => ({ day: r.day, usdCents: BigInt(r.usd_cents) }));
  }

  /** The user's operator console sessions that have not ended (operators only have them). */
  async consoleSessionsOf(userId: string): Promise<{ createdAt: Date; expiresAt: Date }[]> {
    const rows: { created_at: Date; expires_at: Date }[] = await this.dataSource.query(
      `SELECT created_at, expires_at FROM console_sessions WHERE user_id = $1 ORDER BY created_at`,
      [userId],
    );
    return rows.map((r) => ({ createdAt: r.created_at, expiresAt: r.expires_at }));
  }

  /** Locks the user's row for its deletion (after its requests and offers: the one lock order); null if deleted already. */
  async lockForDeletion(manager: EntityManager, userId: string): Promise<{ passwordHash: string } | null> {
    const rows: { password_hash: string }[] = await manager.query(
      `SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`,
      [userId],
    );
    return rows[0] ? { passwordHash: rows[0].password_hash } : null;
  }

  /**
   * Everything of the user's trades that is not over: a trade not terminal, a dispute not resolved, a trade
   * flagged (money of it waits on an operator: a payout or bank refund that came back), a settlement run holding
   * its claim, a settlement step or watch not final (an unclaimed payout, a bank return that may still bounce),
   * bank money in suspense not yet given back. Read under the user's row lock, which every new trade of theirs
   * needs, so nothing new can start meanwhile.
   */
  async stillOwed(manager: EntityManager, userId: string, terminalStates: readonly string[]): Promise<StillOwed> {
    const rows: StillOwed[] = await manager.query(
      `WITH mine AS (
         SELECT id, state, settlement_failing FROM trades WHERE traveler_id = $1
         UNION ALL
         SELECT id, state, settlement_failing FROM trades WHERE counterparty_id = $1
       )
       SELECT (SELECT count(*) FROM mine WHERE state <> ALL($2::text[]))::int AS "liveTrades",
              (SELECT count(*) FROM disputes d JOIN mine ON mine.id = d.trade_id WHERE d.status <> 'resolved')::int AS "unresolvedDisputes",
              (SELECT count(*) FROM mine WHERE settlement_failing)::int AS "flaggedTrades",
              (SELECT count(*) FROM trade_fundings f JOIN mine ON mine.id = f.trade_id
                WHERE f.payout_returned OR f.refund_returned OR f.settlement_claimed_until > now())::int AS "settlementsRunning",
              (SELECT count(*) FROM settlement_steps s JOIN mine ON mine.id = s.trade_id WHERE s.status <> 'done')::int AS "unfinishedSteps",
              (SELECT count(*) FROM bank_incoming_transfers b JOIN mine ON mine.id = b.trade_id
                WHERE b.suspense_usd > 0 AND (b.returned_at IS NULL OR b.bounced_at IS NOT NULL))::int AS "suspenseOwed"`,
      [userId, terminalStates],
    );
    return rows[0];
  }

  /**
   * Pseudonymizes the account: the email replaced by a placeholder that no registration can take (it is not an
   * email address), the display name by "Deleted user", the password by one nobody knows, the payment handles
   * and their blind indexes removed, and `deleted_at` set (which notifies every process's principal cache).
   */
  async pseudonymize(manager: EntityManager, userId: string, replacement: { email: string; displayName: string; passwordHash: string }) {
    await manager.query(
      `UPDATE users SET email = $2, display_name = $3, password_hash = $4,
              wechat_id_ciphertext = NULL, wechat_id_key_id = NULL, wechat_id_index = NULL,
              paypal_email_ciphertext = NULL, paypal_email_key_id = NULL, paypal_email_index = NULL,
              deleted_at = now(), updated_at = now()
        WHERE id = $1`,
      [userId, replacement.email, replacement.displayName, replacement.passwordHash],
    );
  }

  /**
   * Revokes every way in: API keys (their names erased too: the user chose them), console sessions, and the
   * stored responses of their idempotency keys (encrypted, and replayable only by them).
   */
  async revokeAccess(manager: EntityManager, userId: string): Promise<void> {
    await manager.query(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), name = NULL WHERE user_id = $1`, [userId]);
    await manager.query(`DELETE FROM console_sessions WHERE user_id = $1`, [userId]);
    await manager.query(`DELETE FROM idempotency_keys WHERE owner_id = $1`, [userId]);
  }
}
