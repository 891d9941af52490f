import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, EntitySubscriberInterface, TransactionCommitEvent } from 'typeorm';
import { DomainError } from '../common/errors';
import { ClaimRef, IdempotencyRepository } from './idempotency.repository';

/** The claim the current request runs under, until its handler has answered. */
export interface RunningClaim extends ClaimRef {
  running: boolean;
}

export const runningClaim = new AsyncLocalStorage<RunningClaim>();

/** The refusal of a change whose request's claim a retry took over once its lease passed: the change rolled back. */
export function claimTakenOver(): DomainError {
  return new DomainError(
    'idempotency_key_in_use',
    'This request ran past its lease and a retry with the same Idempotency-Key took over; this one changed nothing',
  );
}

/**
 * Fences the changes of a request that runs under an Idempotency-Key claim. Every transaction the request
 * commits first marks the claim as having changed something, in that same transaction; so a retry that
 * finds the claim's lease passed knows for certain whether running again is safe (nothing committed), and
 * a request that outlived its lease, whose key a retry took over, cannot commit: its transaction fails
 * and rolls back. Changes made outside a transaction are not fenced by this subscriber: behind a POST the only
 * ones insert a row once per trade, and a trade opened in one autocommit statement marks the claim in that
 * statement itself (`TradeOpeningRepository.openAtOnce`, with `runningClaim`).
 */
@Injectable()
export class IdempotencyFence implements EntitySubscriberInterface {
  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly records: IdempotencyRepository,
  ) {
    dataSource.subscribers.push(this);
  }

  async beforeTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const claim = runningClaim.getStore();
    // Work the request left running after it answered is not its change any more.
    if (!claim?.running) return;
    if (!(await this.records.markEffect(event.manager, claim))) throw claimTakenOver();
  }
}
