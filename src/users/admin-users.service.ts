import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import type { UserView } from './dto/users.dto';
import type { UserEntity } from './user.entity';
import { presentAdminUser, presentUser } from './users.presenter';
import { UsersRepository } from './users.repository';

/** Operator actions on accounts. Each locks the user row and writes its audit entry in the same transaction. */
@Injectable()
export class AdminUsersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly audit: AuditRepository,
  ) {}

  async view(id: string): Promise<UserView & { disputes: { won: number; lost: number } }> {
    const user = await this.users.findWithReputation(id);
    if (!user) throw DomainError.notFound('User');
    return presentAdminUser(user);
  }

  /** Suspension takes effect on the user's next request: the guards read it from the database each time. */
  suspend(operator: AuthUser, id: string): Promise<UserView> {
    return this.act(operator, id, 'user.suspend', async (manager, user) => {
      if (user.role === 'operator') throw new DomainError('forbidden', 'Operators cannot be suspended here');
      await this.users.setSuspended(manager, id, true);
      return { wasSuspended: user.suspendedAt !== null };
    });
  }

  unsuspend(operator: AuthUser, id: string): Promise<UserView> {
    return this.act(operator, id, 'user.unsuspend', async (manager, user) => {
      await this.users.setSuspended(manager, id, false);
      return { wasSuspended: user.suspendedAt !== null };
    });
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
    const user = await this.dataSource.transaction(async (manager) => {
      const locked = await this.users.lockUser(manager, id);
      if (!locked) throw DomainError.notFound('User');
      const detail = await change(manager, locked);
      await this.audit.record(manager, { operatorId: operator.id, action, targetType: 'user', targetId: id, detail });
      return this.users.findWithReputation(id, manager);
    });
    return presentUser(user!);
  }
}
