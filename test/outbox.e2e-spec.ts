import { DataSource } from 'typeorm';
import { OutboxRelay } from '../src/outbox/outbox.relay';
import { OutboxRepository } from '../src/outbox/outbox.repository';
import { OutboxService } from '../src/outbox/outbox.service';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { deleteRedisKeys, eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';

/**
 * The transactional outbox's relay against the real PostgreSQL, Redis and BullMQ workers of a running service: here
 * the relay publishes every row (the publish after commit is off; test/outbox-after-commit.e2e-spec.ts has it on).
 */
describe('transactional outbox', () => {
  const { test } = useTestApp({ OUTBOX_POLL_INTERVAL_MS: '50', OUTBOX_PUBLISH_AFTER_COMMIT: 'false' });
  let dataSource: DataSource;
  let outbox: OutboxService;
  let relay: OutboxRelay;
  let registry: QueueRegistry;

  beforeAll(() => {
    dataSource = test.app.get(DataSource);
    outbox = test.app.get(OutboxService);
    relay = test.app.get(OutboxRelay);
    registry = test.app.get(QueueRegistry);
  });

  const purgeJob = (jobId: string, delayMs = 0) => ({
    queue: QUEUES.housekeeping,
    jobName: JOBS.housekeeping.purgeIdempotencyKeys,
    jobId,
    payload: { reason: 'test' },
    delayMs,
  });

  async function unpublished(): Promise<number> {
    return (await dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`))[0].n;
  }

  it('never enqueues a row whose transaction rolled back', async () => {
    await expect(
      dataSource.transaction(async (manager) => {
        await outbox.write(manager, purgeJob('rolled-back-1'));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    // A committed marker row behind it proves the relay has passed the point where the rolled-back row would be.
    await dataSource.transaction((manager) => outbox.write(manager, purgeJob('marker-after-rollback')));
    const queue = registry.get(QUEUES.housekeeping);
    await eventually(async () => (await queue.getJob('marker-after-rollback')) !== undefined);
    expect(await queue.getJob('rolled-back-1')).toBeUndefined();
    expect((await dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE job_id = 'rolled-back-1'`))[0].n).toBe(0);
  });

  it('always enqueues a committed row, even with the relay down and Redis emptied in between; a worker runs it', async () => {
    await relay.stop();
    await dataSource.transaction((manager) => outbox.write(manager, purgeJob('committed-1')));
    expect(await unpublished()).toBe(1);
    await deleteRedisKeys(test.queuePrefix);

    await relay.start();
    const queue = registry.get(QUEUES.housekeeping);
    const finished = await eventually(async () => {
      const job = await queue.getJob('committed-1');
      return job?.finishedOn ? job : undefined;
    });
    expect(finished.returnvalue).toEqual({ deleted: 0 });
    expect(finished.failedReason).toBeUndefined();
    expect(await unpublished()).toBe(0);
  });

  it('publishes each row exactly once with several relays at once', async () => {
    await relay.stop();
    const rows = 60;
    await dataSource.transaction(async (manager) => {
      for (let i = 0; i < rows; i += 1) await outbox.write(manager, purgeJob(`many-${i}`, 60000));
    });
    // Three concurrent publishers share the rows through SKIP LOCKED.
    const counts = await Promise.all([relay.publishBatch(), relay.publishBatch(), relay.publishBatch(), relay.publishBatch()]);
    let drained = 0;
    while ((await unpublished()) > 0 && drained < 10) {
      counts.push(await relay.publishBatch());
      drained += 1;
    }
    // Each row was claimed by exactly one publisher: the counts add up to the rows, no more.
    expect(counts.reduce((a, b) => a + b, 0)).toBe(rows);
    const queue = registry.get(QUEUES.housekeeping);
    const delayed = await queue.getJobs(['delayed']);
    expect(delayed.filter((job) => job.id?.startsWith('many-'))).toHaveLength(rows);
    await relay.start();
  });

  it('leaves rows leased by a relay that died to be published once the lease runs out', async () => {
    await relay.stop();
    await dataSource.transaction((manager) => outbox.write(manager, purgeJob('orphaned-lease')));
    // A relay claims the row and dies before enqueueing it.
    const claimed = await test.app.get(OutboxRepository).claimBatch(100, 1);
    expect(claimed.map((row) => row.jobId)).toContain('orphaned-lease');
    const queue = registry.get(QUEUES.housekeeping);
    // While the lease holds, other relays leave the row alone.
    expect(await relay.publishBatch()).toBe(0);
    expect(await queue.getJob('orphaned-lease')).toBeUndefined();
    // Then it is claimed again and published, once.
    await eventually(async () => (await relay.publishBatch()) === 1, 5000, 100);
    expect(await queue.getJob('orphaned-lease')).toBeDefined();
    expect(await unpublished()).toBe(0);
    await relay.start();
  });

  it('keeps the remaining delay of a row from when it was written', async () => {
    await dataSource.transaction((manager) => outbox.write(manager, purgeJob('delayed-1', 600000)));
    const queue = registry.get(QUEUES.housekeeping);
    const job = await eventually(async () => queue.getJob('delayed-1'));
    expect(await job.getState()).toBe('delayed');
    expect(job.opts.delay).toBeGreaterThan(590000);
    expect(job.opts.delay).toBeLessThanOrEqual(600000);
  });

  it('backs off a row that cannot be enqueued without holding back the rows behind it', async () => {
    await relay.stop();
    await dataSource.transaction(async (manager) => {
      // A queue this process does not know, as an older relay would meet during a rolling deploy.
      await manager.query(
        `INSERT INTO outbox (queue, job_name, job_id, payload) VALUES ('unknown-queue', 'x', 'stuck-1', '{}'), ('unknown-queue', 'x', 'stuck-2', '{}')`,
      );
      await outbox.write(manager, purgeJob('behind-stuck-rows'));
    });
    await relay.publishBatch();
    await relay.publishBatch();
    const queue = registry.get(QUEUES.housekeeping);
    expect(await queue.getJob('behind-stuck-rows')).toBeDefined();
    const stuck = await dataSource.query(
      `SELECT attempts, next_attempt_at > now() AS waiting, last_error FROM outbox WHERE job_id LIKE 'stuck-%'`,
    );
    expect(stuck).toEqual([
      { attempts: 1, waiting: true, last_error: 'Unknown queue "unknown-queue"' },
      { attempts: 1, waiting: true, last_error: 'Unknown queue "unknown-queue"' },
    ]);
    await dataSource.query(`DELETE FROM outbox WHERE job_id LIKE 'stuck-%'`);
    await relay.start();
  });

  it('refuses rows written outside a transaction, and job ids with a colon', async () => {
    await expect(outbox.write(dataSource.manager, purgeJob('outside-1'))).rejects.toThrow('inside the transaction');
    await expect(dataSource.transaction((manager) => outbox.write(manager, purgeJob('a:b')))).rejects.toThrow('Invalid job id');
  });
});
