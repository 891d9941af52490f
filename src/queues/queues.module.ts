import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConfigType } from '@nestjs/config';
import { redisConfig } from '../config';
import { redisOptions } from '../redis/redis.module';
import { ALL_QUEUES } from './queue-names';
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
        prefix: config.queuePrefix,
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      }),
    }),
    BullModule.registerQueue(...ALL_QUEUES.map((name) => ({ name }))),
  ],
  providers: [QueueRegistry, QueueMetrics, JobMetrics, WorkerConcurrency, PeriodicJobs, JobHandlerCheck, WorkerShutdown],
  exports: [BullModule, QueueRegistry, PeriodicJobs],
})
export class QueuesModule {}
