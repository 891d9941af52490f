import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { formatRate } from '../common/money';
import { JOBS, QUEUES } from '../queues/queue-names';
import { HandlesJobs } from '../queues/job-handlers';
import { RatesService } from './rates.service';

/** Refreshes the reference. Running it twice only adds one more history row. */
@HandlesJobs('rates', [JOBS.rates.refreshReference])
@Processor(QUEUES.rates)
export class RatesProcessor extends WorkerHost {
  constructor(private readonly rates: RatesService) {
    super();
  }

  async process(job: Job): Promise<{ rate: string }> {
    if (job.name !== JOBS.rates.refreshReference) throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.rates}`);
    const reference = await this.rates.refresh();
    return { rate: formatRate(reference.rate) };
  }
}
