import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DiscoveryService } from '@nestjs/core';
import { appConfig, sandboxConfig } from '../config';
import { MOCKS_ONLY } from '../runtime';
import { handledJobsOf, jobHandlerProblems, ProcessorDeclaration, processorQueueOf, SANDBOX_QUEUES } from './job-handlers';
import { ALL_QUEUES } from './queue-names';

/**
 * Fails the start of a process that runs workers when a job name in `JOBS` has no handler, or a processor
 * declares a name `JOBS` does not know: an unknown job would otherwise fail only when it runs. A process
 * without workers (no processors) checks nothing. The sandbox queues are required only where the mocks are served; the sandbox process requires only them.
 */
@Injectable()
export class JobHandlerCheck implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    @Inject(sandboxConfig.KEY) private readonly sandbox: ConfigType<typeof sandboxConfig>,
    @Inject(MOCKS_ONLY) private readonly mocksOnly: boolean,
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
    // The mocks' queues are worked where the mocks are served: here, or only there (`npm run start:sandbox`).
    const mocksHere = this.app.sandbox && !this.sandbox.mocksUrl;
    const required = this.mocksOnly ? SANDBOX_QUEUES : ALL_QUEUES.filter((queue) => mocksHere || !SANDBOX_QUEUES.includes(queue));
    const problems = jobHandlerProblems(processors, required);
    if (problems.length > 0) throw new Error(`The job handlers do not match JOBS (src/queues/queue-names.ts): ${problems.join('; ')}`);
  }
}
