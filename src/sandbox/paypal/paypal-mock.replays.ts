import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PaypalMockRepository } from './paypal-mock.repository';
import { Transactions } from '../../database/transactions';

/** What a mock call answers, and what a replay of it answers. */
export interface MockResponse {
  status: number;
  body?: unknown;
}

/**
 * PayPal-Request-Id: PayPal answers a repeated call with the first one's result. The id is claimed by
 * inserting its replay row in the transaction that does the work, so an identical call arriving meanwhile
 * waits on that row and then answers what the first one stored. Work that fails takes its claim with it
 * (errors are not kept), and the next identical call runs.
 */
@Injectable()
export class PaypalMockReplays {
  constructor(
    private readonly transactions: Transactions,
    private readonly repository: PaypalMockRepository,
  ) {}

  async once(requestId: string, endpoint: string, work: (manager: EntityManager) => Promise<MockResponse>): Promise<MockResponse> {
    return this.transactions.run(async (manager) => {
      if (!(await this.repository.claimReplay(manager, requestId, endpoint))) {
        const stored = await this.repository.findReplay(manager, requestId, endpoint);
        return { status: stored.status, body: stored.body ?? undefined };
      }
      const result = await work(manager);
      await this.repository.storeReplay(manager, requestId, endpoint, result.status, result.body);
      return result;
    });
  }

  /** PayPal keeps a request id's answer for a while only: past that, a repeat runs as a new call. Returns how many were kept. */
  async forget(requestId: string): Promise<number> {
    return this.repository.deleteReplays(requestId);
  }
}
