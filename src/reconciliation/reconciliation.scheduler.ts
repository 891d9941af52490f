import { InjectQueue } from '@nestjs/bullmq';
import { PeriodicJobs } from '../queues/periodic-jobs';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { reconciliationConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

/** Registers the periodic run; every worker process registers the same one, and keeps it (PeriodicJobs). */
@Injectable()
export class ReconciliationScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.reconciliation) private readonly queue: Queue,
    private readonly periodic: PeriodicJobs,
    @Inject(reconciliationConfig.KEY) private readonly config: ConfigType<typeof reconciliationConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.periodic.keep(this.queue, JOBS.reconciliation.reconcile, this.config.everyMs, { trigger: 'schedule' });
  }
}
