import type { EntityManager, QueryRunner } from 'typeorm';
import type { NewOutboxRow } from './outbox-jobs';

/** An outbox row its transaction wrote to be published by this process once the transaction commits. */
export interface TrackedOutboxRow {
  id: string;
  queue: string;
  jobName: string;
  jobId: string;
  payload: Record<string, unknown>;
  delayMs: number;
  options: NewOutboxRow['options'];
  /** This process's clock when the row was inserted: the start of the row's hop to its worker. */
  insertedAt: number;
  /** The transaction's depth (1: the transaction itself, more: a savepoint) when it was written. */
  depth: number;
}

const TRACKED = 'outboxAfterCommit';

function depthOf(queryRunner: QueryRunner): number {
  return (queryRunner as QueryRunner & { transactionDepth?: number }).transactionDepth ?? 1;
}

function trackedOn(queryRunner: QueryRunner): TrackedOutboxRow[] {
  const data = queryRunner.data as Record<string, TrackedOutboxRow[] | undefined>;
  return (data[TRACKED] ??= []);
}

/**
 * Records that `manager`'s transaction inserted `row` as `id`, for the publish after its commit. Called by whatever
 * ran the INSERT, with the id it returned: a row is published after commit only if it was truly written. Rows
 * without an after-commit lease are left to the relay.
 */
export function trackOutboxRow(manager: EntityManager, row: NewOutboxRow, id: string): void {
  const queryRunner = manager.queryRunner;
  if (!row.afterCommitLeaseMs || !queryRunner) return;
  trackedOn(queryRunner).push({
    id,
    queue: row.queue,
    jobName: row.jobName,
    jobId: row.jobId,
    payload: row.payload,
    delayMs: row.delayMs,
    options: row.options,
    insertedAt: Date.now(),
    depth: depthOf(queryRunner),
  });
}

/** The rows to publish once the transaction has committed (a savepoint's release publishes nothing yet); forgotten here. */
export function takeCommitted(queryRunner: QueryRunner): TrackedOutboxRow[] {
  if (queryRunner.isTransactionActive) {
    // A savepoint released: its rows now belong to the enclosing level, so a later rollback to a sibling
    // savepoint (same depth) must not forget them.
    const depth = depthOf(queryRunner);
    for (const row of trackedOn(queryRunner)) if (row.depth > depth) row.depth = depth;
    return [];
  }
  const rows = trackedOn(queryRunner);
  (queryRunner.data as Record<string, unknown>)[TRACKED] = [];
  return rows;
}

/** Forgets the rows a rollback undid: all of them, or those written inside the savepoint rolled back to. */
export function forgetRolledBack(queryRunner: QueryRunner): void {
  const data = queryRunner.data as Record<string, TrackedOutboxRow[] | undefined>;
  if (!data[TRACKED]) return;
  const depth = queryRunner.isTransactionActive ? depthOf(queryRunner) : 0;
  data[TRACKED] = data[TRACKED].filter((row) => row.depth <= depth);
}

/** A new transaction on a reused query runner starts with nothing tracked. */
export function forgetAll(queryRunner: QueryRunner): void {
  if (depthOf(queryRunner) === 0) (queryRunner.data as Record<string, unknown>)[TRACKED] = [];
}
