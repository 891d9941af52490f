import { getQueueToken } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { ALL_QUEUES, QueueName } from './queue-names';

/** Finds a queue by name, for code that enqueues by data (the outbox relay) rather than by injection. */
@Injectable()
export class QueueRegistry {
  private readonly queues = new Map<string, Queue>();

  constructor(moduleRef: ModuleRef) {
    for (const name of ALL_QUEUES) this.queues.set(name, moduleRef.get<Queue>(getQueueToken(name), { strict: false }));
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
