import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { tradesConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

@Injectable()
export class DeadlinesScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.deadlines) private readonly queue: Queue,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      JOBS.deadlines.sweepDeadlines,
      { every: this.config.deadlineSweepEveryMs },
      { name: JOBS.deadlines.sweepDeadlines },
    );
  }
}
