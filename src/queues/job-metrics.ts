import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Job } from 'bullmq';
import { Histogram, register } from 'prom-client';
import { startedWorkers } from './started-workers';

export const JOB_DURATION_METRIC = 'bullmq_job_duration_seconds';

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
    for (const worker of startedWorkers(this.discovery)) {
      const observe = (job: Job | undefined, outcome: 'completed' | 'failed') => {
        if (!job?.processedOn || !job.finishedOn) return;
        histogram.observe({ queue: worker.name, name: job.name, outcome }, Math.max(0, job.finishedOn - job.processedOn) / 1000);
      };
      worker.on('completed', (job) => observe(job, 'completed'));
      worker.on('failed', (job) => observe(job, 'failed'));
    }
  }
}
