import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../queues/queue-names';
import { HandlesJobs } from '../queues/job-handlers';
import { ReconciliationService, RunSummary } from './reconciliation.service';

/** A run found another under way: an operator's run waits its turn (the job retries); a scheduled one is simply skipped. */
export class ReconciliationBusy extends Error {
  constructor() {
    super('A reconciliation run is under way');
    this.name = 'ReconciliationBusy';
  }
}

@HandlesJobs('reconciliation', [JOBS.reconciliation.reconcile])
@Processor(QUEUES.reconciliation)
export class ReconciliationProcessor extends WorkerHost {
  constructor(private readonly reconciliation: ReconciliationService) {
    super();
  }

  async process(job: Job<{ trigger?: 'schedule' | 'operator' }>): Promise<RunSummary | { skipped: 'busy' }> {
    if (job.name !== JOBS.reconciliation.reconcile) throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.reconciliation}`);
    const trigger = job.data?.trigger === 'operator' ? 'operator' : 'schedule';
    const result = await this.reconciliation.run(trigger);
    if (result !== 'busy') return result;
    if (trigger === 'operator') throw new ReconciliationBusy();
    return { skipped: 'busy' };
  }
}
