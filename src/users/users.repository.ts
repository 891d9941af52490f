import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { EncryptedField } from '../common/crypto/field-encryption';
import { preparedQuery } from '../common/database/query';
import type { ApiKeyScope, AuthUser, UserRole } from '../common/auth/auth-user';
import { UserEntity } from './user.entity';
import { UserReputationEntity } from './user-reputation.entity';
import { ApiKeyEntity } from './api-key.entity';

export interface NewUser {
  email: string;
  passwordHash: string;
  displayName: string;
  role: UserRole;
}

export interface StoredHandle extends EncryptedField {
  index: string;
}

interface UserWithReputationRow {
  id: string;
  email: string;
  display_name: string;
  role: UserRole;
  tier: number;
  suspended_at: Date | null;
  wechat_id_index: string | null;
  paypal_email_index: string | null;
  created_at: Date;
  updated_at: Date;
  completed_trades: number | null;
  failed_trades: number;
  disputes_lost: number;
  disputes_won: number;
  rating_sum: number;
  rating_count: number;
  recent_release_minutes: number[];
}

function toUserEntity(row: UserWithReputationRow): UserEntity {
  return Object.assign(new UserEntity(), {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    role: row.role,
    tier: row.tier,
    suspendedAt: row.suspended_at,
    wechatIdIndex: row.wechat_id_index,
    paypalEmailIndex: row.paypal_email_index,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    reputation:
      row.completed_trades === null
        ? undefined
        : Object.assign(new UserReputationEntity(), {
            userId: row.id,
            completedTrades: row.completed_trades,
            failedTrades: row.failed_trades,
            disputesLost: row.disputes_lost,
            disputesWon: row.disputes_won,
            ratingSum: row.rating_sum,
            ratingCount: row.rating_count,
            recentReleaseMinutes: row.recent_release_minutes,
          }),
  });
}

/** Every query on users, their reputation counters and API keys. Methods take the caller's manager to join its transaction. */
@Injectable()
export class UsersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private m(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /** Inserts the user and its zeroed reputation row; returns null when the email is taken. */
  async insertUser(manager: EntityManager, user: NewUser): Promise<UserEntity | null> {
    const inserted = await manager.query(
      `INSERT INTO users (email, password_hash, display_name, role) VALUES ($1, $2, $3, $4)
       ON CONFLICT (email) DO NOTHING RETURNING id`,
      [user.email, user.passwordHash, user.displayName, user.role],
    );
    if (inserted.length === 0) return null;
    const id: string = inserted[0].id;
    await manager.insert(UserReputationEntity, { userId: id });
    return this.findWithReputation(id, manager);
  }

  /** One indexed read with a join, in plain SQL: this is on the path of every profile and `/v1/me`. */
  /**
   * A user's trades for operators: how many ended in each state (and how many are live), and the latest ten.
   * Read from the trades table directly: a read model, so users need not import trades.
   */
  async tradeHistoryOf(userId: string): Promise<{
    counts: Record<string, number>;
    recent: { id: string; state: string; role: 'traveler' | 'counterparty'; amountUsd: bigint; amountCny: bigint; createdAt: Date }[];
  }> {
    const counts: { state: string; n: number }[] = await this.dataSource.query(
      `SELECT state, count(*)::int AS n FROM (
         SELECT state FROM trades WHERE traveler_id = $1 UNION ALL SELECT state FROM trades WHERE counterparty_id = $1
       ) mine GROUP BY state`,
      [userId],
    );
    const recent: { id: string; state: string; traveler_id: string; amount_usd: string; amount_cny: string; created_at: Date }[] =
      await this.dataSource.query(
        `SELECT id, state, traveler_id, amount_usd, amount_cny, created_at FROM trades
          WHERE traveler_id = $1 OR counterparty_id = $1 ORDER BY created_at DESC, id DESC LIMIT 10`,
        [userId],
      );
    return {
      counts: Object.fromEntries(counts.map((c) => [c.state, c.n])),
      recent: recent.map((r) => ({
        id: r.id,
        state: r.state,
        role: r.traveler_id === userId ? 'traveler' : 'counterparty',
        amountUsd: BigInt(r.amount_usd),
        amountCny: BigInt(r.amount_cny),
        createdAt: r.created_at,
      })),
    };
  }

  async findWithReputation(id: string, manager?: EntityManager): Promise<UserEntity | null> {
    const rows: UserWithReputationRow[] = await this.m(manager).query(
      `SELECT u.id, u.email, u.display_name, u.role, u.tier, u.suspended_at, u.wechat_id_index, u.paypal_email_index, u.created_at, u.updated_at,
              r.completed_trades, r.failed_trades, r.disputes_lost, r.disputes_won, r.rating_sum, r.rating_count, r.recent_release_minutes
         FROM users u LEFT JOIN user_reputation r ON r.user_id = u.id
        WHERE u.id = $1`,
      [id],
    );
    return rows.length === 0 ? null : toUserEntity(rows[0]);
  }

  async findCredentialsByEmail(email: string): Promise<Pick<UserEntity, 'id' | 'passwordHash' | 'role'> | null> {
    const rows = await this.dataSource.query(`SELECT id, password_hash, role FROM users WHERE email = $1`, [email]);
    return rows.length === 0 ? null : { id: rows[0].id, passwordHash: rows[0].password_hash, role: rows[0].role };
  }

  /** The account registered with this (normalized) email, for operators who look someone up. */
  async findIdByEmail(email: string): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM users WHERE email = $1`, [email]);
    return rows[0]?.id ?? null;
  }

  /** The fields every authenticated request needs, in one indexed read. A deleted account has none: its tokens are refused. */
  async findPrincipal(id: string): Promise<Omit<AuthUser, 'via'> | null> {
    const rows = await this.dataSource.query(
      `SELECT id, role, tier, suspended_at IS NOT NULL AS suspended FROM users WHERE id = $1 AND deleted_at IS NULL`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** The owner of a live key (not revoked, not expired), with the key's scope. */
  async findPrincipalByApiKeyHash(
    keyHash: string,
  ): Promise<(Omit<AuthUser, 'via' | 'scope'> & { scope: ApiKeyScope | null; keyId: string; stale: boolean }) | null> {
    const rows = await this.dataSource.query(
      `SELECT u.id, u.role, u.tier, u.suspended_at IS NOT NULL AS suspended, k.id AS "keyId", k.scope,
              (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS stale
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.deleted_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
      [keyHash],
    );
    return rows[0] ?? null;
  }

  async touchApiKey(keyId: string): Promise<void> {
    await this.dataSource.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [keyId]);
  }

  async setWechatHandle(manager: EntityManager, userId: string, handle: StoredHandle): Promise<void> {
    await manager.update(
      UserEntity,
      { id: userId },
      { wechatIdCiphertext: handle.ciphertext, wechatIdKeyId: handle.keyId, wechatIdIndex: handle.index },
    );
  }

  async setPaypalHandle(manager: EntityManager, userId: string, handle: StoredHandle): Promise<void> {
    await manager.update(
      UserEntity,
      { id: userId },
      { paypalEmailCiphertext: handle.ciphertext, paypalEmailKeyId: handle.keyId, paypalEmailIndex: handle.index },
    );
  }

  /** Locks the user row for an operator action, so concurrent actions on one user apply in order. */
  lockUser(manager: EntityManager, id: string): Promise<UserEntity | null> {
    return manager.findOne(UserEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /**
   * Reads what an action needs of its actor inside the action's transaction, locking the row against a
   * concurrent suspension: the guard's read came before the transaction began. Null once the account is deleted
   * (a post authenticated just before the deletion committed, that waited on this lock).
   */
  async lockActor(
    manager: EntityManager,
    id: string,
  ): Promise<{ suspended: boolean; hasWechatWallet: boolean; hasPayoutAccount: boolean } | null> {
    const rows = await preparedQuery<{ suspended: boolean; hasWechatWallet: boolean; hasPayoutAccount: boolean }>(
      this.dataSource,
      manager,
      `SELECT suspended_at IS NOT NULL AS suspended, wechat_id_index IS NOT NULL AS "hasWechatWallet", paypal_email_index IS NOT NULL AS "hasPayoutAccount"
         FROM users WHERE id = $1 AND deleted_at IS NULL FOR SHARE`,
      [id],
    );
    return rows[0] ?? null;
  }

  async setSuspended(manager: EntityManager, id: string, suspended: boolean): Promise<void> {
    await manager.query(
      `UPDATE users SET suspended_at = CASE WHEN $2 THEN coalesce(suspended_at, now()) END, updated_at = now() WHERE id = $1`,
      [id, suspended],
    );
  }

  async setTier(manager: EntityManager, id: string, tier: number): Promise<void> {
    await manager.update(UserEntity, { id }, { tier });
  }

  async insertOperator(user: NewUser): Promise<UserEntity | null> {
    return this.dataSource.transaction((manager) => this.insertUser(manager, user));
  }

  async insertApiKey(key: {
    userId: string;
    prefix: string;
    keyHash: string;
    name: string | null;
    scope: ApiKeyScope | null;
    expiresAt: Date | null;
  }): Promise<ApiKeyEntity | null> {
    return this.dataSource.transaction(async (manager) => {
      // The owner's row, shared with other creations and waited for behind a deletion, which revokes every key it
      // sees: a key created before it is revoked by it, one after finds no owner (null) and is not made.
      const owner: unknown[] = await manager.query(`SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR SHARE`, [key.userId]);
      if (owner.length === 0) return null;
      const repository = manager.getRepository(ApiKeyEntity);
      return repository.save(repository.create(key));
    });
  }

  listApiKeys(userId: string, limit: number, after?: { createdAt: string; id: string }): Promise<ApiKeyEntity[]> {
    const query = this.dataSource
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('k')
      .where('k.user_id = :userId', { userId })
      .orderBy("date_trunc('milliseconds', k.created_at)", 'ASC')
      .addOrderBy('k.id', 'ASC')
      .limit(limit);
    if (after) query.andWhere("(date_trunc('milliseconds', k.created_at), k.id) > (:createdAt, :id)", after);
    return query.getMany();
  }

  /** Revokes a key of this user; returns it, or null when the user has no such key. Revoking twice keeps the first time. */
  async revokeApiKey(userId: string, keyId: string): Promise<ApiKeyEntity | null> {
    await this.dataSource.query(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND user_id = $2`, [
      keyId,
      userId,
    ]);
    return this.dataSource.getRepository(ApiKeyEntity).findOne({ where: { id: keyId, userId } });
  }
}
