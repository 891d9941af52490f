import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { HandlesJobs } from '../../queues/job-handlers';
import { PayoutVerificationService } from './payout-verification.service';

// Each job waits on WeChat (up to its timeout); VERIFICATION_WORKER_CONCURRENCY jobs run at once, so one slow answer holds up none.
@HandlesJobs('verification', [JOBS.verification.verifyPayout, JOBS.verification.lastSearch])
@Processor(QUEUES.verification)
export class VerificationProcessor extends WorkerHost {
  constructor(private readonly verification: PayoutVerificationService) {
    super();
  }

  async process(job: Job<{ tradeId: string }>): Promise<{ outcome: string }> {
    if (job.name === JOBS.verification.verifyPayout) return { outcome: await this.verification.verify(job.data.tradeId) };
    if (job.name === JOBS.verification.lastSearch) return { outcome: await this.verification.lastSearch(job.data.tradeId) };
    throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.verification}`);
  }
}
