import { safeErrorForLog } from '../common/errors';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Job } from 'bullmq';
import { marketConfig } from '../config';
import { expireRequestJobId } from '../queues/job-ids';
import { JOBS, QUEUES } from '../queues/queue-names';
import { QueueRegistry } from '../queues/queue-registry';
import { NEARING_START, sweepHorizonMs } from '../queues/sweep-horizon';
import { jobString } from '../queues/job-data';
import { HandlesJobs } from '../queues/job-handlers';
import { MarketRepository } from './market.repository';
import { Transactions } from '../database/transactions';

const SWEEP_BATCH = 500;
const SWEEP_MAX_BATCHES = 20;
const NEARING_PAGE = 500;
const NEARING_MAX_PAGES = 20;

/**
 * Request expiry. The delayed job expires one request at its time; the sweeper queues the jobs of the expiries
 * nearing (within the horizon, `queues/sweep-horizon.ts`) and expires whatever a lost job left behind. Both are
 * conditional updates, so running either twice changes nothing more; a job queued twice is one job (its id).
 */
@HandlesJobs('market', [JOBS.market.expireRequest, JOBS.market.sweepExpiredRequests])
@Processor(QUEUES.market)
export class MarketProcessor extends WorkerHost {
  private readonly logger = new Logger(MarketProcessor.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly market: MarketRepository,
    private readonly queues: QueueRegistry,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
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
        // Redis refusing the jobs must not keep this run from expiring the requests already due, below.
        const queued = await this.queueNearing().catch((error: unknown) => {
          this.logger.warn({ error: safeErrorForLog(error) }, 'Nearing expiries could not be queued; the next sweep offers them again');
          return 0;
        });
        let total = 0;
        for (let i = 0; i < SWEEP_MAX_BATCHES; i += 1) {
          const ids = await this.transactions.run((manager) => this.market.expireOverdue(manager, SWEEP_BATCH));
          total += ids.length;
          if (ids.length < SWEEP_BATCH) break;
        }
        if (total > 0) this.logger.log(`Sweeper expired ${total} requests`);
        return { queued, expired: total };
      }
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.market}`);
    }
  }

  /**
   * Queues the expiry job of every request expiring within the horizon, under its one id (BullMQ ignores an id it
   * holds), delayed by what PostgreSQL says is left. Bounded per run; what a run leaves, the next queues or expires.
   */
  private async queueNearing(): Promise<number> {
    const horizonMs = sweepHorizonMs(this.config.expirySweepEveryMs);
    let offered = 0;
    let after = NEARING_START;
    for (let page = 0; page < NEARING_MAX_PAGES; page += 1) {
      const nearing = await this.market.nearingExpiry(horizonMs, after, NEARING_PAGE);
      if (nearing.length === 0) break;
      await this.queues.get(QUEUES.market).addBulk(
        nearing.map(({ requestId, dueInMs }) => ({
          name: JOBS.market.expireRequest,
          data: { requestId },
          opts: { jobId: expireRequestJobId(requestId), delay: dueInMs },
        })),
      );
      offered += nearing.length;
      if (nearing.length < NEARING_PAGE) break;
      after = nearing[nearing.length - 1].next;
    }
    return offered;
  }
}
