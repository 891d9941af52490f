import { EntityManager } from 'typeorm';

/**
 * Runs `work` in the caller's transaction when it has one (the transaction that keeps a PayPal-Request-Id's
 * answer), else in a new one. No savepoint inside that transaction: work that fails rolls the whole call back anyway
 * (errors are not kept), so a savepoint would cost two round trips for nothing.
 */
export function inTransaction<T>(outer: EntityManager, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return outer.queryRunner?.isTransactionActive ? work(outer) : outer.transaction(work);
}
