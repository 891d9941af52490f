import { InjectQueue } from '@nestjs/bullmq';
import { PeriodicJobs } from '../queues/periodic-jobs';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { marketConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

@Injectable()
export class MarketScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.market) private readonly queue: Queue,
    private readonly periodic: PeriodicJobs,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.periodic.keep(this.queue, JOBS.market.sweepExpiredRequests, this.config.expirySweepEveryMs);
  }
}
