import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DiscoveryService } from '@nestjs/core';
import { appConfig } from '../config';
import { handledJobsOf, jobHandlerProblems, ProcessorDeclaration, processorQueueOf, SANDBOX_QUEUES } from './job-handlers';
import { ALL_QUEUES } from './queue-names';

/**
 * Fails the start of a process that runs workers when a job name in `JOBS` has no handler, or a processor
 * declares a name `JOBS` does not know: an unknown job would otherwise fail only when it runs. A process
 * without workers (no processors) checks nothing. The sandbox queues are required only in sandbox mode.
 */
@Injectable()
export class JobHandlerCheck implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  onModuleInit(): void {
    const processors: ProcessorDeclaration[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const type = wrapper.metatype;
      if (typeof type !== 'function') continue;
      const queue = processorQueueOf(type);
      if (queue) processors.push({ processor: type.name, queue, handles: handledJobsOf(type) });
    }
    if (processors.length === 0) return;
    const required = ALL_QUEUES.filter((queue) => this.app.sandbox || !SANDBOX_QUEUES.includes(queue));
    const problems = jobHandlerProblems(processors, required);
    if (problems.length > 0) throw new Error(`The job handlers do not match JOBS (src/queues/queue-names.ts): ${problems.join('; ')}`);
  }
}
