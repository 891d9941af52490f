import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { jobsConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

/** Registers the periodic clean-ups; upsertJobScheduler makes every worker process's registration the same one. */
@Injectable()
export class HousekeepingScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.housekeeping) private readonly queue: Queue,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      JOBS.housekeeping.purgeIdempotencyKeys,
      { every: this.config.idempotencyPurgeEveryMs },
      { name: JOBS.housekeeping.purgeIdempotencyKeys },
    );
    await this.queue.upsertJobScheduler(
      JOBS.housekeeping.purgePublishedOutbox,
      { every: this.config.idempotencyPurgeEveryMs },
      { name: JOBS.housekeeping.purgePublishedOutbox },
    );
  }
}
