import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job } from 'bullmq';
import { DataSource } from 'typeorm';
import { JOBS, QUEUES } from '../queues/queue-names';
import { TradesRepository } from './trades.repository';
import { TradesService } from './trades.service';

const SWEEP_BATCH = 100;
const SWEEP_MAX_BATCHES = 20;

/**
 * Trade deadlines. The delayed job applies one trade's deadline at its time; the sweeper applies every
 * deadline a lost job left behind. Both go through the same conditional transition, so running either
 * twice, or in two worker processes at once, changes nothing twice.
 */
@Processor(QUEUES.deadlines)
export class DeadlinesProcessor extends WorkerHost {
  private readonly logger = new Logger(DeadlinesProcessor.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly trades: TradesService,
    private readonly repository: TradesRepository,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case JOBS.deadlines.fundingDeadline: {
        const tradeId = (job.data as { tradeId?: unknown }).tradeId;
        if (typeof tradeId !== 'string') throw new Error('funding-deadline needs a tradeId');
        const expired = await this.dataSource.transaction((manager) => this.trades.expireUnfunded(manager, tradeId));
        return { expired };
      }
      case JOBS.deadlines.sweepDeadlines: {
        let total = 0;
        for (let i = 0; i < SWEEP_MAX_BATCHES; i += 1) {
          const batch = await this.dataSource.transaction(async (manager) => {
            const due = await this.repository.dueForFunding(manager, SWEEP_BATCH);
            let expired = 0;
            for (const id of due) if (await this.trades.expireUnfunded(manager, id)) expired += 1;
            return { expired, full: due.length === SWEEP_BATCH };
          });
          total += batch.expired;
          if (!batch.full) break;
        }
        if (total > 0) this.logger.log(`Sweeper expired ${total} unfunded trades`);
        return { expired: total };
      }
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.deadlines}`);
    }
  }
}
