import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigType } from '@nestjs/config';
import type { JobsOptions } from 'bullmq';
import type { DataSource } from 'typeorm';
import type { jobsConfig } from '../config';
import type { NewOutboxRow } from './outbox-jobs';
import { OutboxPublisher } from './outbox.publisher';
import type { OutboxRepository } from './outbox.repository';
import type { PublisherQueues } from './publisher-queues';

describe('work run after a commit', () => {
  const row: NewOutboxRow = {
    queue: 'settlement',
    jobName: 'settle-trade',
    jobId: 'settle-t-releasing',
    payload: { tradeId: 't' },
    delayMs: 0,
    options: {},
    afterCommitLeaseMs: 10000,
  };

  /** A publisher whose queue adds are recorded; `leaseMs` sets the work's budget (a little under a quarter of it). */
  function publisherWith(leaseMs: number) {
    const added: { name: string; opts?: JobsOptions }[] = [];
    const queues = {
      has: () => true,
      get: () => ({ addBulk: async (jobs: typeof added) => added.push(...jobs) }),
      close: async () => undefined,
    };
    const publisher = new OutboxPublisher(
      { subscribers: [] } as unknown as DataSource,
      queues as unknown as PublisherQueues,
      { markPublished: async () => undefined } as unknown as OutboxRepository,
      { outboxAfterCommitLeaseMs: leaseMs, outboxPublishAfterCommit: true } as ConfigType<typeof jobsConfig>,
    );
    return { publisher, added };
  }

  it('runs outside the committing request’s context: no store of the request is seen by the work', async () => {
    const { publisher } = publisherWith(10000);
    // Stands for a request's Idempotency-Key claim or log context.
    const request = new AsyncLocalStorage<{ key: string }>();
    const seenByWork: unknown[] = [];
    publisher.runFirst(row.queue, row.jobName, async () => {
      seenByWork.push(request.getStore());
      return { done: true };
    });
    const seenByRequest = request.run({ key: 'k' }, () => {
      publisher.publishWritten([{ row, id: '1' }], Date.now());
      return request.getStore();
    });
    await publisher.beforeApplicationShutdown();
    expect(seenByRequest).toEqual({ key: 'k' });
    expect(seenByWork).toEqual([undefined]);
  });

  it('has the job of work that outlasted its budget due `overrunDelayMs` later, and a shutdown waits for that work', async () => {
    // A lease of 800 ms: the work's budget is about 300 ms; it takes 600.
    const { publisher, added } = publisherWith(800);
    let ended = false;
    publisher.runFirst(
      row.queue,
      row.jobName,
      async () => {
        await sleep(600);
        ended = true;
        return { done: true };
      },
      { overrunDelayMs: 5000 },
    );
    publisher.publishWritten([{ row: { ...row, afterCommitLeaseMs: 800 }, id: '1' }], Date.now());
    await publisher.beforeApplicationShutdown();
    expect(ended).toBe(true);
    expect(added).toHaveLength(1);
    expect(added[0].opts?.delay).toBeGreaterThan(4000);
  });

  it('queues at once the job of work that failed, and runs no work once the process is shutting down', async () => {
    const { publisher, added } = publisherWith(10000);
    let runs = 0;
    publisher.runFirst(
      row.queue,
      row.jobName,
      async () => {
        runs += 1;
        throw new Error('refused');
      },
      { overrunDelayMs: 5000 },
    );
    publisher.publishWritten([{ row, id: '1' }], Date.now());
    await publisher.beforeApplicationShutdown();
    expect(runs).toBe(1);
    expect(added.map((job) => job.opts?.delay)).toEqual([undefined]);
    // A row committed while the process drains: its job, not its work.
    publisher.publishWritten([{ row, id: '2' }], Date.now());
    await publisher.onApplicationShutdown();
    expect(runs).toBe(1);
    expect(added).toHaveLength(2);
  });
});
