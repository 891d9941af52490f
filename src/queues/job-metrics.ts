import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Job } from 'bullmq';
import { Histogram, register } from 'prom-client';
import { startedWorkers } from './started-workers';

export const JOB_DURATION_METRIC = 'bullmq_job_duration_seconds';
export const OUTBOX_HOP_METRIC = 'outbox_hop_seconds';

/**
 * The seconds from an outbox row's insert (or its due time, if later) to its job's first start in a worker: one hop
 * of work from the change that queued it to the code that runs it. Only jobs due at once count: a delayed job's start
 * is set by its delay, and periodic jobs come from no outbox row. The job's `timestamp` is that due time, set at its
 * publish (src/outbox/outbox-jobs.ts).
 */
export function outboxHopSeconds(job: Job, now: number): number | undefined {
  if (job.repeatJobKey || job.attemptsMade > 0 || (job.opts.delay ?? 0) > 0) return undefined;
  return Math.max(0, now - job.timestamp) / 1000;
}

/**
 * How long each job took and how it ended, by queue and job name, from the workers in this process. Read from
 * the job's own timestamps (processedOn → finishedOn), so it measures the attempt, not the time it waited.
 */
@Injectable()
export class JobMetrics implements OnApplicationBootstrap {
  constructor(private readonly discovery: DiscoveryService) {}

  onApplicationBootstrap(): void {
    register.removeSingleMetric(JOB_DURATION_METRIC);
    const histogram = new Histogram({
      name: JOB_DURATION_METRIC,
      help: 'BullMQ job attempt duration by queue, job name and outcome',
      labelNames: ['queue', 'name', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    register.removeSingleMetric(OUTBOX_HOP_METRIC);
    const hops = new Histogram({
      name: OUTBOX_HOP_METRIC,
      help: "Seconds from an outbox row's insert to its job's first start in a worker, by queue (jobs due at once)",
      labelNames: ['queue'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
    });
    for (const worker of startedWorkers(this.discovery)) {
      worker.on('active', (job) => {
        const seconds = outboxHopSeconds(job, Date.now());
        if (seconds !== undefined) hops.observe({ queue: worker.name }, seconds);
      });
      const observe = (job: Job | undefined, outcome: 'completed' | 'failed') => {
        if (!job?.processedOn || !job.finishedOn) return;
        histogram.observe({ queue: worker.name, name: job.name, outcome }, Math.max(0, job.finishedOn - job.processedOn) / 1000);
      };
      worker.on('completed', (job) => observe(job, 'completed'));
      worker.on('failed', (job) => observe(job, 'failed'));
    }
  }
}
