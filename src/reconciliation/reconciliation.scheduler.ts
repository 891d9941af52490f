import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { reconciliationConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

/** Registers the periodic run; upsertJobScheduler makes every worker process's registration the same one. */
@Injectable()
export class ReconciliationScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.reconciliation) private readonly queue: Queue,
    @Inject(reconciliationConfig.KEY) private readonly config: ConfigType<typeof reconciliationConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      JOBS.reconciliation.reconcile,
      { every: this.config.everyMs },
      { name: JOBS.reconciliation.reconcile, data: { trigger: 'schedule' } },
    );
  }
}
