import { getQueueToken } from '@nestjs/bullmq';
import { FactoryProvider, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigFactoryKeyHost, ConfigType } from '@nestjs/config';
import { jobsConfig } from '../config';
import type { Queue } from 'bullmq';
import { safeErrorForLog } from '../common/errors';

interface Schedule {
  queue: Queue;
  name: string;
  everyMs: number;
  data: Record<string, unknown>;
}

/**
 * The periodic jobs (sweeps, the rate refresh, reconciliation, clean-ups), registered with BullMQ's job schedulers
 * and kept: Redis is a cache of work, and a Redis that lost its keys (flushed, failed over to an empty replica) would
 * otherwise run no sweep again until some process restarts, leaving trades stuck with nobody told. Every process
 * that registers a schedule checks every `PERIODIC_JOBS_CHECK_EVERY_MS` (30 s) that it is still there, and registers it again if not
 * (`upsertJobScheduler` makes every process's registration the same one).
 */
@Injectable()
export class PeriodicJobs implements OnApplicationShutdown {
  private readonly logger = new Logger(PeriodicJobs.name);
  private readonly schedules: Schedule[] = [];
  private timer?: NodeJS.Timeout;

  constructor(@Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>) {}

  async keep(queue: Queue, name: string, everyMs: number, data: Record<string, unknown> = {}): Promise<void> {
    const schedule = { queue, name, everyMs, data };
    this.schedules.push(schedule);
    await this.register(schedule);
    if (!this.timer) {
      this.timer = setInterval(() => void this.restoreLost(), this.config.periodicJobsCheckEveryMs);
      this.timer.unref();
    }
  }

  /** Registers again every schedule Redis no longer holds; returns how many. */
  async restoreLost(): Promise<number> {
    let restored = 0;
    for (const schedule of this.schedules) {
      try {
        if (await schedule.queue.getJobScheduler(schedule.name)) continue;
        await this.register(schedule);
        restored += 1;
        this.logger.warn({ queue: schedule.queue.name, job: schedule.name }, 'A periodic job Redis had lost was registered again');
      } catch (error) {
        this.logger.warn({ error: safeErrorForLog(error), job: schedule.name }, 'A periodic job could not be checked; trying again later');
      }
    }
    return restored;
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async register(schedule: Schedule): Promise<void> {
    await schedule.queue.upsertJobScheduler(
      schedule.name,
      { every: schedule.everyMs },
      { name: schedule.name, ...(Object.keys(schedule.data).length ? { data: schedule.data } : {}) },
    );
  }
}

export interface PeriodicJob {
  name: string;
  everyMs: number;
  data?: Record<string, unknown>;
}

type ConfigHost = (() => unknown) & Pick<ConfigFactoryKeyHost, 'KEY'>;

/**
 * A provider that registers a queue's periodic jobs when the application starts and keeps them (PeriodicJobs); every
 * worker process registers the same ones. `jobs` is given the values of `configs`, in order.
 */
export function keepPeriodicJobs<T extends ConfigHost[]>(
  queue: string,
  configs: [...T],
  jobs: (...configs: { [K in keyof T]: ConfigType<T[K]> }) => PeriodicJob[],
): FactoryProvider<OnApplicationBootstrap> {
  return {
    provide: `periodic-jobs:${queue}`,
    inject: [PeriodicJobs, getQueueToken(queue), ...configs.map((config) => config.KEY)],
    useFactory: (periodic: PeriodicJobs, target: Queue, ...values: { [K in keyof T]: ConfigType<T[K]> }) => ({
      async onApplicationBootstrap() {
        for (const job of jobs(...values)) await periodic.keep(target, job.name, job.everyMs, job.data);
      },
    }),
  };
}
