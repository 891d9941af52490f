import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../queues/queue-names';
import { jobString } from '../queues/job-data';
import { HandlesJobs } from '../queues/job-handlers';
import { MarketRepository } from './market.repository';
import { Transactions } from '../database/transactions';

const SWEEP_BATCH = 500;
const SWEEP_MAX_BATCHES = 20;

/**
 * Request expiry. The delayed job expires one request at its time; the sweeper expires whatever a lost job
 * left behind. Both are conditional updates, so running either twice changes nothing more.
 */
@HandlesJobs('market', [JOBS.market.expireRequest, JOBS.market.sweepExpiredRequests])
@Processor(QUEUES.market)
export class MarketProcessor extends WorkerHost {
  private readonly logger = new Logger(MarketProcessor.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly market: MarketRepository,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case JOBS.market.expireRequest: {
        const requestId = jobString(job, 'requestId');
        const expired = await this.transactions.run((manager) => this.market.expireRequest(manager, requestId));
        return { expired };
      }
      case JOBS.market.sweepExpiredRequests: {
        let total = 0;
        for (let i = 0; i < SWEEP_MAX_BATCHES; i += 1) {
          const ids = await this.transactions.run((manager) => this.market.expireOverdue(manager, SWEEP_BATCH));
          total += ids.length;
          if (ids.length < SWEEP_BATCH) break;
        }
        if (total > 0) this.logger.log(`Sweeper expired ${total} requests`);
        return { expired: total };
      }
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.market}`);
    }
  }
}
