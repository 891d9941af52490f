import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { startedWorkers } from './started-workers';

/**
 * Stops this process's BullMQ workers first thing in a shutdown: they take no new job, and their active jobs finish.
 * @nestjs/bullmq closes them only in `onApplicationShutdown`, after the HTTP server has closed and alongside the
 * database and Redis closing: jobs kept starting during the close (a periodic sweep every minute), and a job that
 * calls this same service over HTTP (the sandbox's mocks) met a closing server while a database pool closed under it.
 * Every job is idempotent: what a job did not start is left for the next run.
 */
@Injectable()
export class WorkerShutdown implements OnModuleDestroy {
  private readonly logger = new Logger(WorkerShutdown.name);

  constructor(private readonly discovery: DiscoveryService) {}

  async onModuleDestroy(): Promise<void> {
    const workers = startedWorkers(this.discovery);
    if (workers.length === 0) return;
    // close() is idempotent: the library's own close later awaits the same promise.
    await Promise.all(workers.map((worker) => worker.close()));
    this.logger.log({ workers: workers.length }, 'Job workers stopped');
  }
}
