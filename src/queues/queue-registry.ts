import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { ALL_QUEUES, QueueName } from './queue-names';

/** Finds a queue by name, for code that enqueues by data (the outbox relay) rather than by injection. */
@Injectable()
export class QueueRegistry implements OnModuleInit {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly moduleRef: ModuleRef) {}

  // The queues are built by async factories: they exist only once the modules have initialised.
  onModuleInit(): void {
    for (const name of ALL_QUEUES) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      if (!queue) throw new Error(`Queue "${name}" is not registered`);
      this.queues.set(name, queue);
    }
  }

  get(name: string): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`Unknown queue "${name}"`);
    return queue;
  }

  all(): Queue[] {
    return [...this.queues.values()];
  }

  has(name: string): name is QueueName {
    return this.queues.has(name);
  }
}
