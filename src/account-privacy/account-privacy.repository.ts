import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { EncryptedField } from '../common/crypto/field-encryption';
import { OFFER_SELECT, OfferRow, REQUEST_SELECT, RequestRow, toOffer, toRequest } from '../market/market-rows';
import type { ExchangeRequest, Offer } from '../market/market.types';
import { moneyOwedSql } from '../trades/money-owed';

/** What still ties an account to money or a decision: any of these above zero refuses its deletion. */
export interface StillOwed {
  liveTrades: number;
  unresolvedDisputes: number;
  /** Trades of theirs whose money is still owed to or by someone (`moneyOwedSql`). */
  moneyOwed: number;
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

  /** The sign-in email (normalized, as stored) and password hash of an account that is not deleted, or null. */
  async credentialsOf(userId: string): Promise<{ email: string; passwordHash: string } | null> {
    const rows: { email: string; password_hash: string }[] = await this.dataSource.query(
      `SELECT email, password_hash FROM users WHERE id = $1 AND deleted_at IS NULL`,
      [userId],
    );
    return rows[0] ? { email: rows[0].email, passwordHash: rows[0].password_hash } : null;
  }

  /** A traveler's requests in any status, by id, a page after `afterId` (the account export). */
  async requestsOf(travelerId: string, limit: number, afterId?: string): Promise<ExchangeRequest[]> {
    const rows: RequestRow[] = await this.dataSource.query(
      `${REQUEST_SELECT} WHERE r.traveler_id = $1 AND ($2::uuid IS NULL OR r.id > $2::uuid) ORDER BY r.id LIMIT $3`,
      [travelerId, afterId ?? null, limit],
    );
    return rows.map(toRequest);
  }

  /** A counterparty's offers in any status, by id, a page after `afterId` (the account export). */
  async offersOf(counterpartyId: string, limit: number, afterId?: string): Promise<Offer[]> {
    const rows: OfferRow[] = await this.dataSource.query(
      `${OFFER_SELECT} WHERE o.counterparty_id = $1 AND ($2::uuid IS NULL OR o.id > $2::uuid) ORDER BY o.id LIMIT $3`,
      [counterpartyId, afterId ?? null, limit],
    );
    return rows.map(toOffer);
  }

  /**
   * A maker's requests that could still trade (open or filled, not expired) and offers that are not closed, by
   * id; `lock` locks them in that order (the account deletion takes them before the user's row, as an accept or
   * a take does).
   */
  async openListingsOf(manager: EntityManager, userId: string, lock: boolean): Promise<{ requests: string[]; offers: string[] }> {
    const forUpdate = lock ? ' FOR UPDATE' : '';
    const requests: { id: string }[] = await manager.query(
      `SELECT id FROM exchange_requests WHERE traveler_id = $1 AND status IN ('open', 'filled') AND expires_at > now() ORDER BY id${forUpdate}`,
      [userId],
    );
    const offers: { id: string }[] = await manager.query(
      `SELECT id FROM offers WHERE counterparty_id = $1 AND status <> 'closed' ORDER BY id${forUpdate}`,
      [userId],
    );
    return { requests: requests.map((r) => r.id), offers: offers.map((o) => o.id) };
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
   * Everything of the user's trades that is not over: a trade not terminal, a dispute not resolved, money of a
   * trade still owed to or by someone (`moneyOwedSql`, the one definition the handle retention uses too). Read under
   * the user's row lock, which every new trade of theirs needs, so nothing new can start meanwhile.
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
              (SELECT count(*) FROM mine t WHERE ${moneyOwedSql('t')})::int AS "moneyOwed"`,
      [userId, terminalStates],
    );
    return rows[0];
  }

  /** The ids of the user's trades, on either side. */
  async tradeIdsOf(manager: EntityManager, userId: string): Promise<string[]> {
    const rows: { id: string }[] = await manager.query(
      `SELECT id FROM trades WHERE traveler_id = $1 UNION SELECT id FROM trades WHERE counterparty_id = $1`,
      [userId],
    );
    return rows.map((r) => r.id);
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
