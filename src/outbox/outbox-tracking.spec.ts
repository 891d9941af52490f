import type { EntityManager, QueryRunner } from 'typeorm';
import type { NewOutboxRow } from './outbox-jobs';
import { forgetAll, forgetRolledBack, takeCommitted, trackOutboxRow } from './outbox-tracking';

describe('outbox rows tracked for the publish after commit', () => {
  const row = (jobId: string, afterCommitLeaseMs = 10000): NewOutboxRow => ({
    queue: 'housekeeping',
    jobName: 'purge',
    jobId,
    payload: {},
    delayMs: 0,
    options: {},
    afterCommitLeaseMs,
  });
  // A query runner as TypeORM's moves through a transaction: depth 1 inside it, more inside savepoints.
  const runner = () =>
    ({ data: {}, isTransactionActive: true, transactionDepth: 1 }) as unknown as QueryRunner & { transactionDepth: number };
  const managerOf = (queryRunner: QueryRunner) => ({ queryRunner }) as EntityManager;
  const ids = (rows: { jobId: string }[]) => rows.map((r) => r.jobId);

  it('hands over the rows once the transaction has committed, and only once', () => {
    const queryRunner = runner();
    trackOutboxRow(managerOf(queryRunner), row('a'), '1');
    trackOutboxRow(managerOf(queryRunner), row('b'), '2');
    expect(takeCommitted(queryRunner)).toEqual([]); // still inside the transaction (a savepoint released)
    Object.assign(queryRunner, { isTransactionActive: false, transactionDepth: 0 });
    expect(ids(takeCommitted(queryRunner))).toEqual(['a', 'b']);
    expect(takeCommitted(queryRunner)).toEqual([]);
  });

  it('forgets every row at a rollback, and a savepoint’s rows only at its rollback', () => {
    const queryRunner = runner();
    trackOutboxRow(managerOf(queryRunner), row('outer'), '1');
    queryRunner.transactionDepth = 2;
    trackOutboxRow(managerOf(queryRunner), row('inner'), '2');
    queryRunner.transactionDepth = 1; // ROLLBACK TO SAVEPOINT
    forgetRolledBack(queryRunner);
    Object.assign(queryRunner, { isTransactionActive: false, transactionDepth: 0 });
    expect(ids(takeCommitted(queryRunner))).toEqual(['outer']);

    const rolledBack = runner();
    trackOutboxRow(managerOf(rolledBack), row('gone'), '3');
    Object.assign(rolledBack, { isTransactionActive: false, transactionDepth: 0 });
    forgetRolledBack(rolledBack);
    expect(takeCommitted(rolledBack)).toEqual([]);
  });

  it('keeps a released savepoint’s rows when a sibling savepoint rolls back', () => {
    const queryRunner = runner();
    queryRunner.transactionDepth = 2;
    trackOutboxRow(managerOf(queryRunner), row('released'), '1');
    queryRunner.transactionDepth = 1; // RELEASE SAVEPOINT: TypeORM announces it as a commit
    expect(takeCommitted(queryRunner)).toEqual([]);
    queryRunner.transactionDepth = 2;
    trackOutboxRow(managerOf(queryRunner), row('rolled-back'), '2');
    queryRunner.transactionDepth = 1; // ROLLBACK TO SAVEPOINT
    forgetRolledBack(queryRunner);
    Object.assign(queryRunner, { isTransactionActive: false, transactionDepth: 0 });
    expect(ids(takeCommitted(queryRunner))).toEqual(['released']);
  });

  it('leaves rows without an after-commit lease to the relay, and starts a reused runner clean', () => {
    const queryRunner = runner();
    trackOutboxRow(managerOf(queryRunner), row('relay-only', 0), '1');
    trackOutboxRow(managerOf(queryRunner), row('left-over'), '2');
    queryRunner.transactionDepth = 0;
    forgetAll(queryRunner);
    Object.assign(queryRunner, { isTransactionActive: false });
    expect(takeCommitted(queryRunner)).toEqual([]);
  });
});
