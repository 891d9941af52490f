import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { FundingService } from './funding.service';
import { SettlementService } from './settlement.service';

@Processor(QUEUES.funding)
export class FundingProcessor extends WorkerHost {
  constructor(private readonly funding: FundingService) {
    super();
  }

  async process(job: Job<{ tradeId: string }>): Promise<{ outcome: string }> {
    if (job.name !== JOBS.funding.checkFunding) throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.funding}`);
    return { outcome: await this.funding.check(job.data.tradeId) };
  }
}

@Processor(QUEUES.settlement)
export class SettlementProcessor extends WorkerHost {
  constructor(private readonly settlement: SettlementService) {
    super();
  }

  async process(job: Job<{ tradeId: string }>): Promise<{ outcome: string }> {
    if (job.name !== JOBS.settlement.settleTrade) throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.settlement}`);
    return { outcome: await this.settlement.settle(job.data.tradeId) };
  }
}
