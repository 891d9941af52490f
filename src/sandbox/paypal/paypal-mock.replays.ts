import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PaypalMockRepository } from './paypal-mock.repository';
import { Transactions } from '../../database/transactions';

/** What a mock call answers, and what a replay of it answers. */
export interface MockResponse {
  status: number;
  body?: unknown;
}

/** A PayPal-Request-Id on the endpoint it was sent to: what a stored answer is kept under. */
export interface ReplayKey {
  requestId: string;
  endpoint: string;
}

/** The request id had an answer when this call's work went to keep its own: the work rolls back. */
class AlreadyAnswered extends Error {}

/** A call whose answer was forgotten between its conflict and the read runs again, this many times at most. */
const RUNS = 3;

/**
 * PayPal-Request-Id: PayPal answers a repeated call with the first one's result. The answer is kept by inserting its
 * replay row at the end of the transaction that did the work, in the same round trip budget as the work: no claim
 * ahead of it. An identical call made meanwhile does its work up to that insert (or up to the row locks the first
 * holds), the insert waits for the first call's commit and finds its row, and the second call's work rolls back:
 * only one order, capture, refund or payout is ever committed for an id, and every caller gets the first answer.
 * A call whose work fails answers the stored answer if the id has one (a repeat of a call that succeeded fails
 * on the state that call left: already authorized, captured, voided), else its own error. Errors are not kept,
 * so the next identical call runs.
 */
@Injectable()
export class PaypalMockReplays {
  constructor(
    private readonly transactions: Transactions,
    private readonly repository: PaypalMockRepository,
  ) {}

  async once(key: ReplayKey, work: (manager: EntityManager) => Promise<MockResponse>): Promise<MockResponse> {
    for (let run = 1; ; run += 1) {
      try {
        return await this.transactions.run(async (manager) => {
          const result = await work(manager);
          if (!(await this.repository.keepReplay(manager, key.requestId, key.endpoint, result.status, result.body))) {
            throw new AlreadyAnswered();
          }
          return result;
        });
      } catch (error) {
        const stored = await this.stored(key);
        if (stored) return stored;
        if (!(error instanceof AlreadyAnswered) || run === RUNS) throw error;
      }
    }
  }

  /**
   * The same for work that keeps its answer in its own statement (`kept`: the replay row inserted with the change,
   * the change made only if the insert was): undefined from `work` means the id had an answer, which is answered, as
   * it is when the work fails.
   */
  async inStatement(key: ReplayKey, work: (key: ReplayKey) => Promise<MockResponse | undefined>): Promise<MockResponse> {
    for (let run = 1; ; run += 1) {
      let result: MockResponse | undefined;
      try {
        result = await work(key);
      } catch (error) {
        const stored = await this.stored(key);
        if (stored) return stored;
        throw error;
      }
      if (result) return result;
      const stored = await this.stored(key);
      if (stored) return stored;
      if (run === RUNS) throw new Error(`The answer to PayPal-Request-Id ${key.requestId} was kept and forgotten again`);
    }
  }

  /** PayPal keeps a request id's answer for a while only: past that, a repeat runs as a new call. Returns how many were kept. */
  async forget(requestId: string): Promise<number> {
    return this.repository.deleteReplays(requestId);
  }

  /** The stored answer, if any; a failure to read it leaves the caller's own outcome standing. */
  private async stored(key: ReplayKey): Promise<MockResponse | undefined> {
    const stored = await this.repository.findReplay(key.requestId, key.endpoint).catch(() => undefined);
    return stored ? { status: stored.status, body: stored.body ?? undefined } : undefined;
  }
}
