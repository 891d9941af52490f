import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConfigType } from '@nestjs/config';
import { redisConfig } from '../config';
import { redisOptions } from '../redis/redis.module';
import { ALL_QUEUES } from './queue-names';
import { queueKeyPrefix } from './queue-keys';
import { JobMetrics } from './job-metrics';
import { QueueMetrics } from './queue-metrics';
import { QueueRegistry } from './queue-registry';
import { WorkerConcurrency } from './worker-concurrency';
import { PeriodicJobs } from './periodic-jobs';
import { DEFAULT_JOB_OPTIONS } from './retry-policies';
import { JobHandlerCheck } from './job-handler-check';
import { WorkerShutdown } from './worker-shutdown';

@Global()
@Module({
  imports: [
    DiscoveryModule,
    BullModule.forRootAsync({
      inject: [redisConfig.KEY],
      useFactory: (config: ConfigType<typeof redisConfig>) => ({
        connection: { ...redisOptions(config), maxRetriesPerRequest: null },
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      }),
    }),
    // Each queue under its own hash tag (queue-keys.ts); the workers take their queue's prefix from it.
    BullModule.registerQueueAsync(
      ...ALL_QUEUES.map((name) => ({
        name,
        inject: [redisConfig.KEY],
        useFactory: (config: ConfigType<typeof redisConfig>) => ({ prefix: queueKeyPrefix(config.queuePrefix, name) }),
      })),
    ),
  ],
  providers: [QueueRegistry, QueueMetrics, JobMetrics, WorkerConcurrency, PeriodicJobs, JobHandlerCheck, WorkerShutdown],
  exports: [BullModule, QueueRegistry, PeriodicJobs],
})
export class QueuesModule {}
