import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConfigType } from '@nestjs/config';
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

  it('runs outside the committing request’s context: no store of the request is seen by the work', async () => {
    const publisher = new OutboxPublisher(
      { subscribers: [] } as unknown as DataSource,
      { has: () => false } as unknown as PublisherQueues,
      { markPublished: async () => undefined } as unknown as OutboxRepository,
      { outboxAfterCommitLeaseMs: 10000, outboxPublishAfterCommit: true } as ConfigType<typeof jobsConfig>,
    );
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
});
