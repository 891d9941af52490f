import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** Which payment handle changed, as `account_events.field` stores it. */
export type HandleField = 'wechat_id' | 'paypal_email';

export interface SelfTradeTarget {
  type: 'request' | 'offer';
  id: string;
}

/** A user's row as a handle change reads it, locked. */
export interface HandleOwner {
  suspended: boolean;
  wechatIdIndex: string | null;
  paypalEmailIndex: string | null;
}

/** What operators see of an account's security events. */
export interface AccountSecuritySummary {
  flaggedAt: Date | null;
  selfTradeRefusals: { total: number; withinWindow: number; lastAt: Date | null };
  handleChanges: { field: HandleField; at: Date; ip: string | null }[];
}

/**
 * Trade states that are not terminal (`LIVE_STATES` in trades/trade.state-machine.ts, whose spec checks this
 * copy), spelt out so the partial indexes `trades_live_traveler_idx` and `trades_live_counterparty_idx` serve.
 * Users never import trades.
 */
export const LIVE_TRADE_STATES = ['awaiting_funding', 'funded', 'payout_sent', 'releasing', 'refunding', 'disputed', 'splitting'] as const;
const LIVE_SQL = LIVE_TRADE_STATES.map((state) => `'${state}'`).join(', ');

/** Every query on `account_events`, and what a payment handle change must know of its owner's commitments. */
@Injectable()
export class AccountEventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Locks the owner's row `FOR UPDATE`: trade creation (`lockParties`, `FOR UPDATE`) and posting (`lockActor`,
   * `FOR SHARE`) take the same row, so a change and an accept or a post run one after the other, and whatever
   * committed before this lock was granted is seen by the statements after it. A deleted account has no owner row
   * (null): a change authenticated just before its deletion committed, and waiting on this lock, finds it gone.
   */
  async lockOwner(manager: EntityManager, userId: string): Promise<HandleOwner | null> {
    const rows = await manager.query(
      `SELECT suspended_at IS NOT NULL AS suspended, wechat_id_index AS "wechatIdIndex", paypal_email_index AS "paypalEmailIndex"
         FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`,
      [userId],
    );
    return rows[0] ?? null;
  }

  /** Whether the user has a live trade (either side), an open request that has not expired, or an offer not closed. */
  async hasLiveCommitments(manager: EntityManager, userId: string): Promise<boolean> {
    const rows: { locked: boolean }[] = await manager.query(
      `SELECT EXISTS (SELECT 1 FROM trades WHERE traveler_id = $1 AND state IN (${LIVE_SQL}))
           OR EXISTS (SELECT 1 FROM trades WHERE counterparty_id = $1 AND state IN (${LIVE_SQL}))
           OR EXISTS (SELECT 1 FROM exchange_requests WHERE traveler_id = $1 AND status = 'open' AND expires_at > now())
           OR EXISTS (SELECT 1 FROM offers WHERE counterparty_id = $1 AND status <> 'closed') AS locked`,
      [userId],
    );
    return rows[0].locked;
  }

  /** The user's handle changes within the last `windowMs`, and the seconds until the oldest of them leaves it. */
  async handleChangesWithin(manager: EntityManager, userId: string, windowMs: number): Promise<{ count: number; freeInSeconds: number }> {
    const rows: { count: number; free_in: number | null }[] = await manager.query(
      `SELECT count(*)::int AS count,
              extract(epoch FROM min(at) + $2 * interval '1 millisecond' - now())::float8 AS free_in
         FROM account_events
        WHERE user_id = $1 AND kind = 'handle_changed' AND at > now() - $2 * interval '1 millisecond'`,
      [userId, windowMs],
    );
    return { count: rows[0].count, freeInSeconds: Math.max(1, rows[0].free_in ?? 1) };
  }

  /** Erases the addresses a deleted user acted from (the table's trigger allows nothing else, and only once deleted). */
  async eraseAddressesOf(manager: EntityManager, userId: string): Promise<void> {
    await manager.query(`UPDATE account_events SET ip = NULL WHERE user_id = $1 AND ip IS NOT NULL`, [userId]);
  }

  /**
   * The user's own handle changes, oldest first, for their own export: refusals and flags are operators' records
   * (see AccountExportService) and stay out.
   */
  async handleChangesOf(
    userId: string,
  ): Promise<
    { kind: string; field: HandleField | null; targetType: string | null; targetId: string | null; ip: string | null; at: Date }[]
  > {
    return this.dataSource.query(
      `SELECT kind, field, target_type AS "targetType", target_id AS "targetId", ip, at FROM account_events
        WHERE user_id = $1 AND kind = 'handle_changed' ORDER BY at, id`,
      [userId],
    );
  }

  async recordHandleChange(manager: EntityManager, userId: string, field: HandleField, ip: string | null): Promise<void> {
    await manager.query(`INSERT INTO account_events (user_id, kind, field, ip) VALUES ($1, 'handle_changed', $2, $3)`, [
      userId,
      field,
      ip === null ? null : ip.slice(0, 64),
    ]);
  }

  /**
   * Records a refusal; returns the user's refusals within the last `windowMs`, this one included. One user's
   * records queue on a transaction-scoped advisory lock (taken last, after any row lock of the caller's), so
   * refusals recorded at once each count the others and the flag is not missed.
   */
  async recordSelfTradeRefusal(manager: EntityManager, userId: string, target: SelfTradeTarget, windowMs: number): Promise<number> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext('self_trade_refusals'), hashtext($1::text))`, [userId]);
    const rows: { count: number }[] = await manager.query(
      `WITH refused AS (
         INSERT INTO account_events (user_id, kind, target_type, target_id) VALUES ($1, 'self_trade_refused', $2, $3)
       )
       SELECT count(*)::int + 1 AS count FROM account_events
        WHERE user_id = $1 AND kind = 'self_trade_refused' AND at > now() - $4 * interval '1 millisecond'`,
      [userId, target.type, target.id, windowMs],
    );
    return rows[0].count;
  }

  /** Flags the user once; true when this call raised the flag. */
  async flagSelfTrades(manager: EntityManager, userId: string): Promise<boolean> {
    const rows = await manager.query(
      `INSERT INTO account_events (user_id, kind) VALUES ($1, 'self_trade_flagged')
       ON CONFLICT (user_id) WHERE kind = 'self_trade_flagged' DO NOTHING RETURNING id`,
      [userId],
    );
    return rows.length === 1;
  }

  async summaryOf(userId: string, windowMs: number): Promise<AccountSecuritySummary> {
    const [counts]: { flagged_at: Date | null; total: number; within: number; last_at: Date | null }[] = await this.dataSource.query(
      `SELECT (SELECT at FROM account_events WHERE user_id = $1 AND kind = 'self_trade_flagged') AS flagged_at,
              count(*)::int AS total,
              (count(*) FILTER (WHERE at > now() - $2 * interval '1 millisecond'))::int AS within,
              max(at) AS last_at
         FROM account_events WHERE user_id = $1 AND kind = 'self_trade_refused'`,
      [userId, windowMs],
    );
    const changes: { field: HandleField; at: Date; ip: string | null }[] = await this.dataSource.query(
      `SELECT field, at, ip FROM account_events WHERE user_id = $1 AND kind = 'handle_changed' ORDER BY at DESC, id DESC LIMIT 20`,
      [userId],
    );
    return {
      flaggedAt: counts.flagged_at,
      selfTradeRefusals: { total: counts.total, withinWindow: counts.within, lastAt: counts.last_at },
      handleChanges: changes,
    };
  }
}
