import { Injectable, Logger } from '@nestjs/common';
import { checkFundingJobId } from '../../queues/job-ids';
import { QUEUES } from '../../queues/queue-names';
import { QueueRegistry } from '../../queues/queue-registry';
import { removeSpentJobs } from '../../queues/spent-jobs';

/**
 * A trade's funding poll (`check-funding-<trade>-poll`), queued with its PayPal order or bank reference: it asks the
 * provider until the trade is funded or its window closes, so a trade whose webhooks or callbacks never come still
 * funds. Nearly every trade is funded by its webhook's check long before the poll runs; the poll then has nothing
 * left to do (a funded trade never waits for funding again), so it is removed once funding has committed.
 */
@Injectable()
export class FundingPoll {
  private readonly logger = new Logger(FundingPoll.name);

  constructor(private readonly queues: QueueRegistry) {}

  /**
   * Removes the funded trade's poll from its queue. Called only after the funding transaction committed: a poll
   * that is running (locked, maybe this very job) is left alone, and a poll whose outbox row is published after
   * this (the writer's publish late, or the relay's) runs once and finds the trade funded. Either way no poll is
   * lost while the trade still waits for funding, and a removal that fails changes nothing but that run.
   */
  async dropFunded(tradeId: string): Promise<void> {
    await removeSpentJobs(
      this.queues.get(QUEUES.funding),
      [checkFundingJobId(tradeId, 'poll')],
      this.logger,
      { tradeId },
      'The funded trade’s funding poll could not be removed; it will find nothing',
    );
  }
}
