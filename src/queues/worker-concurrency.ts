import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DiscoveryService } from '@nestjs/core';
import { jobsConfig, webhooksConfig } from '../config';
import { QUEUES } from './queue-names';
import { startedWorkers } from './started-workers';

/**
 * Sets every worker's concurrency from configuration (WORKER_CONCURRENCY). With one job at a time, a queue's
 * throughput is one provider round trip after another: settlements and webhook deliveries would queue behind
 * each other while the CPU idles. Client webhooks have their own (WEBHOOK_CONCURRENCY): each delivery may wait
 * up to 10 s on a receiver, so a dead receiver may hold only WEBHOOK_CONCURRENCY_PER_ENDPOINT of them. The funding,
 * settlement and verification queues have theirs (FUNDING_, SETTLEMENT_, VERIFICATION_WORKER_CONCURRENCY): their jobs
 * wait on providers, and 8 slots kept a burst of work waiting while the process idled.
 */
@Injectable()
export class WorkerConcurrency implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
    @Inject(webhooksConfig.KEY) private readonly webhooks: ConfigType<typeof webhooksConfig>,
  ) {}

  onApplicationBootstrap(): void {
    for (const worker of startedWorkers(this.discovery)) {
      worker.concurrency = this.concurrencyOf(worker.name);
    }
  }

  private concurrencyOf(queue: string): number {
    if (queue === QUEUES.webhooks) return this.webhooks.concurrency;
    if (queue === QUEUES.funding) return this.config.fundingWorkerConcurrency;
    if (queue === QUEUES.settlement) return this.config.settlementWorkerConcurrency;
    if (queue === QUEUES.verification) return this.config.verificationWorkerConcurrency;
    return this.config.workerConcurrency;
  }
}
