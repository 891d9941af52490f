import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/errors';

/**
 * The re-check of an operator's own standing inside the transaction of their action. The guard read the
 * principal before the transaction began (and may have read it from the principal cache, which is dropped at
 * the commit of a suspension, so within a millisecond or so), so a request that passed the guard just before
 * another operator's suspension committed would otherwise still act after it. Locking the operator's row
 * serializes the two: the suspension committed first is seen here (403 `account_suspended`), or it waits for
 * this action to commit, which then came before it. Lock order 3 (users' rows, in id order): the operator's row
 * is locked together with any other user rows the action needs, never after them.
 */
@Injectable()
export class OperatorStandingRepository {
  /**
   * Locks the operator's row, and `withUsers` in the same statement in id order (all `FOR UPDATE` then, as
   * their later locks take them; the operator's alone `FOR SHARE`), and refuses a suspended or deleted operator.
   */
  async lockActive(manager: EntityManager, operatorId: string, withUsers: string[] = []): Promise<void> {
    const ids = [...new Set([operatorId, ...withUsers])];
    const mode = ids.length > 1 ? 'UPDATE' : 'SHARE';
    const rows: { id: string; active: boolean }[] = await manager.query(
      `SELECT id, suspended_at IS NULL AND deleted_at IS NULL AS active FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR ${mode}`,
      [ids],
    );
    if (rows.find((row) => row.id === operatorId)?.active !== true) {
      throw new DomainError('account_suspended', 'The operator account is suspended');
    }
  }
}
