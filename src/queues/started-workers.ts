import { WorkerHost } from '@nestjs/bullmq';
import { DiscoveryService } from '@nestjs/core';
import type { Worker } from 'bullmq';

/** The BullMQ workers Nest started in this process (none when it runs without workers). */
export function startedWorkers(discovery: DiscoveryService): Worker[] {
  return discovery
    .getProviders()
    .map((wrapper) => wrapper.instance as unknown)
    .filter((instance): instance is WorkerHost => instance instanceof WorkerHost)
    .flatMap((host) => {
      try {
        return [host.worker];
      } catch {
        return []; // a processor whose worker was not started
      }
    });
}
