import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { marketConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

@Injectable()
export class MarketScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.market) private readonly queue: Queue,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      JOBS.market.sweepExpiredRequests,
      { every: this.config.expirySweepEveryMs },
      { name: JOBS.market.sweepExpiredRequests },
    );
  }
}
