import { InjectQueue } from '@nestjs/bullmq';
import { PeriodicJobs } from '../queues/periodic-jobs';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { tradesConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

@Injectable()
export class DeadlinesScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.deadlines) private readonly queue: Queue,
    private readonly periodic: PeriodicJobs,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.periodic.keep(this.queue, JOBS.deadlines.sweepDeadlines, this.config.deadlineSweepEveryMs);
  }
}
