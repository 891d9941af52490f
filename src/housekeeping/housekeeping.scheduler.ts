import { InjectQueue } from '@nestjs/bullmq';
import { PeriodicJobs } from '../queues/periodic-jobs';
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';

import { chatConfig, eventsConfig, jobsConfig, tradesConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';

/** Registers the periodic clean-ups; every worker process registers the same one, and keeps it (PeriodicJobs). */
@Injectable()
export class HousekeepingScheduler implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QUEUES.housekeeping) private readonly queue: Queue,
    private readonly periodic: PeriodicJobs,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
    @Inject(tradesConfig.KEY) private readonly trades: ConfigType<typeof tradesConfig>,
    @Inject(chatConfig.KEY) private readonly chat: ConfigType<typeof chatConfig>,
    @Inject(eventsConfig.KEY) private readonly events: ConfigType<typeof eventsConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.periodic.keep(this.queue, JOBS.housekeeping.purgeIdempotencyKeys, this.config.idempotencyPurgeEveryMs);
    await this.periodic.keep(this.queue, JOBS.housekeeping.purgePublishedOutbox, this.config.idempotencyPurgeEveryMs);
    await this.periodic.keep(this.queue, JOBS.housekeeping.eraseHandleSnapshots, this.trades.handleRetentionSweepEveryMs);
    await this.periodic.keep(this.queue, JOBS.housekeeping.eraseMessageTexts, this.chat.messageRetentionSweepEveryMs);
    await this.periodic.keep(this.queue, JOBS.housekeeping.purgeEvents, this.events.purgeEveryMs);
  }
}
