import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { normalizeEmail } from '../common/crypto/field-encryption';
import { formatAmount } from '../common/money';
import type { UserView } from './dto/users.dto';
import type { UserEntity } from './user.entity';
import { presentAdminUser, presentUser } from './users.presenter';
import { ConsoleSessionsRepository } from './console-sessions.repository';
import { OperatorStandingRepository } from './operator-standing.repository';
import { PrincipalCache } from './principal-cache';
import { SelfTradeWatch } from './self-trade-watch';
import { UsersRepository } from './users.repository';
import { Transactions } from '../database/transactions';

export type AdminUserView = UserView & {
  disputes: { won: number; lost: number };
  tradeCounts: Record<string, number>;
  recentTrades: { id: string; state: string; role: string; amountUsd: string; amountCny: string; createdAt: string }[];
  /** `self_trade_probing` once the user's self-trade refusals reached the threshold (SelfTradeWatch). */
  flags: { flag: 'self_trade_probing'; at: string }[];
  selfTradeRefusals: { total: number; withinWindow: number; lastAt: string | null };
  /** The latest 20 payment handle changes: which handle, when, from which address; never the value. */
  handleChanges: { field: 'wechatWallet' | 'payoutAccount'; at: string; ip: string | null }[];
};

/**
 * Operator actions on accounts. Each locks the caller's and the user's rows (id order), re-checks that the caller
 * is still active, and writes its audit entry in the same transaction.
 */
@Injectable()
export class AdminUsersService {
  constructor(
    private readonly transactions: Transactions,
    private readonly users: UsersRepository,
    private readonly audit: AuditRepository,
    private readonly principals: PrincipalCache,
    private readonly selfTrades: SelfTradeWatch,
    private readonly standing: OperatorStandingRepository,
    private readonly consoleSessions: ConsoleSessionsRepository,
  ) {}

  /** A user as operators see them: reputation, disputes won and lost, trades by final state and the latest ten. */
  async view(id: string): Promise<AdminUserView> {
    const user = await this.users.findWithReputation(id);
    if (!user) throw DomainError.notFound('User');
    const [history, security] = await Promise.all([this.users.tradeHistoryOf(id), this.selfTrades.summaryOf(id)]);
    const ended = ['completed', 'refunded', 'settled_split', 'cancelled', 'expired'];
    return {
      ...presentAdminUser(user),
      tradeCounts: {
        ...Object.fromEntries(ended.map((state) => [state, history.counts[state] ?? 0])),
        live: Object.entries(history.counts)
          .filter(([state]) => !ended.includes(state))
          .reduce((sum, [, n]) => sum + n, 0),
      },
      recentTrades: history.recent.map((t) => ({
        id: t.id,
        state: t.state,
        role: t.role,
        amountUsd: formatAmount(t.amountUsd, 'USD'),
        amountCny: formatAmount(t.amountCny, 'CNY'),
        createdAt: t.createdAt.toISOString(),
      })),
      flags: security.flaggedAt ? [{ flag: 'self_trade_probing', at: security.flaggedAt.toISOString() }] : [],
      selfTradeRefusals: { ...security.selfTradeRefusals, lastAt: security.selfTradeRefusals.lastAt?.toISOString() ?? null },
      handleChanges: security.handleChanges.map((change) => ({
        field: change.field === 'wechat_id' ? 'wechatWallet' : 'payoutAccount',
        at: change.at.toISOString(),
        ip: change.ip,
      })),
    };
  }

  /**
   * Suspension takes effect on the user's next request: the change empties every process's principal cache at
   * commit. A suspended operator may not act at all (tokens, API keys and console sessions are refused, and their
   * console sessions are ended); an
   * operator can neither suspend nor unsuspend themselves (403 `forbidden`), so one is always left to lift a
   * suspension and a suspended operator's request that passed the guard just before cannot lift their own.
   */
  suspend(operator: AuthUser, id: string, reason?: string): Promise<UserView> {
    if (id === operator.id) throw new DomainError('forbidden', 'Operators cannot suspend themselves');
    return this.act(operator, id, 'user.suspend', async (manager, user) => {
      await this.users.setSuspended(manager, id, true);
      // Their console sessions end with the suspension: lifting it later does not bring an old cookie back.
      await this.consoleSessions.endAllOf(manager, id);
      return { wasSuspended: user.suspendedAt !== null, ...(reason ? { reason } : {}) };
    });
  }

  /** `reason`, when given (the console asks for one), is kept in the audit entry. */
  unsuspend(operator: AuthUser, id: string, reason?: string): Promise<UserView> {
    if (id === operator.id) throw new DomainError('forbidden', 'Operators cannot lift their own suspension');
    return this.act(operator, id, 'user.unsuspend', async (manager, user) => {
      await this.users.setSuspended(manager, id, false);
      return { wasSuspended: user.suspendedAt !== null, ...(reason ? { reason } : {}) };
    });
  }

  /** The id of the account with this email (compared as registered: normalized), or 404. */
  async idByEmail(email: string): Promise<string> {
    const id = await this.users.findIdByEmail(normalizeEmail(email));
    if (!id) throw DomainError.notFound('User');
    return id;
  }

  setTier(operator: AuthUser, id: string, tier: number): Promise<UserView> {
    return this.act(operator, id, 'user.set_tier', async (manager, user) => {
      await this.users.setTier(manager, id, tier);
      return { fromTier: user.tier, toTier: tier };
    });
  }

  private async act(
    operator: AuthUser,
    id: string,
    action: string,
    change: (manager: EntityManager, user: UserEntity) => Promise<Record<string, unknown>>,
  ): Promise<UserView> {
    const user = await this.transactions.run(async (manager) => {
      // The caller's row and the target's first, in id order: a caller suspended since the guard read them is
      // refused, and two operators suspending each other at once cannot both succeed.
      await this.standing.lockActive(manager, operator.id, [id]);
      const locked = await this.users.lockUser(manager, id);
      if (!locked) throw DomainError.notFound('User');
      const detail = await change(manager, locked);
      await this.audit.record(manager, { operatorId: operator.id, action, targetType: 'user', targetId: id, detail });
      return this.users.findWithReputation(id, manager);
    });
    // The trigger's notification reaches this process a moment after the commit; this answer must not beat it.
    this.principals.forget(id);
    return presentUser(user!);
  }
}
