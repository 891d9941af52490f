import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { HandlesJobs } from '../../queues/job-handlers';
import { BankFundingService } from './bank-funding.service';
import { FundingService } from './funding.service';
import { pollBackoffStrategy } from '../../queues/retry-policies';

// The funding checks back off by the `poll` strategy, which BullMQ does not have built in.
@HandlesJobs('funding', [JOBS.funding.checkFunding, JOBS.funding.receiveBankTransfer])
@Processor(QUEUES.funding, { settings: { backoffStrategy: pollBackoffStrategy } })
export class FundingProcessor extends WorkerHost {
  constructor(
    private readonly funding: FundingService,
    private readonly bankFunding: BankFundingService,
  ) {
    super();
  }

  async process(job: Job<{ tradeId?: string; transferId?: string }>): Promise<{ outcome: string }> {
    if (job.name === JOBS.funding.checkFunding) return { outcome: await this.funding.check(job.data.tradeId!) };
    if (job.name === JOBS.funding.receiveBankTransfer) return { outcome: await this.bankFunding.receiveById(job.data.transferId!) };
    throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.funding}`);
  }
}
