import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { QueueRegistry } from './queue-registry';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

/** Queue depths in /metrics, read from Redis when Prometheus scrapes, so nothing runs between scrapes. */
@Injectable()
export class QueueMetrics implements OnModuleInit {
  constructor(private readonly queues: QueueRegistry) {}

  onModuleInit(): void {
    const queues = this.queues;
    register.removeSingleMetric('bullmq_queue_jobs');
    new Gauge({
      name: 'bullmq_queue_jobs',
      help: 'Jobs in each BullMQ queue by state',
      labelNames: ['queue', 'state'],
      async collect() {
        this.reset();
        for (const queue of queues.all()) {
          try {
            const counts = await queue.getJobCounts(...STATES);
            for (const state of STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
          } catch {
            // Redis unreachable: readiness reports it; the metric is left out rather than wrong.
          }
        }
      },
    });
  }
}
