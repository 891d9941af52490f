import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DiscoveryService } from '@nestjs/core';
import { jobsConfig } from '../config';
import { startedWorkers } from './started-workers';

/**
 * Sets every worker's concurrency from configuration (WORKER_CONCURRENCY). With one job at a time, a queue's
 * throughput is one provider round trip after another: settlements and webhook deliveries would queue behind
 * each other while the CPU idles.
 */
@Injectable()
export class WorkerConcurrency implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
  ) {}

  onApplicationBootstrap(): void {
    for (const worker of startedWorkers(this.discovery)) worker.concurrency = this.config.workerConcurrency;
  }
}
