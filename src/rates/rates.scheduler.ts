import { InjectQueue } from '@nestjs/bullmq';
import { PeriodicJobs } from '../queues/periodic-jobs';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { marketConfig } from '../config';
import { JOBS, QUEUES } from '../queues/queue-names';
import { RatesService } from './rates.service';

@Injectable()
export class RatesScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(RatesScheduler.name);

  constructor(
    @InjectQueue(QUEUES.rates) private readonly queue: Queue,
    private readonly periodic: PeriodicJobs,
    private readonly rates: RatesService,
    @Inject(marketConfig.KEY) private readonly config: ConfigType<typeof marketConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // A fresh start should not wait a whole period for its first reference.
    const current = await this.rates.current();
    if (!current || current.stale) {
      await this.rates.refresh().catch((error: Error) => this.logger.warn(`First reference refresh failed: ${error.message}`));
    }
    await this.periodic.keep(this.queue, JOBS.rates.refreshReference, this.config.referenceRefreshEveryMs);
  }
}
