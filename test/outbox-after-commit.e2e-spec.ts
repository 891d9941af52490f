import { DiscoveryService } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { fundingDeadlineJobId } from '../src/queues/job-ids';
import { OutboxRelay } from '../src/outbox/outbox.relay';
import { OutboxService } from '../src/outbox/outbox.service';
import { OutboxPublisher } from '../src/outbox/outbox.publisher';
import { PublisherQueues } from '../src/outbox/publisher-queues';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { startedWorkers } from '../src/queues/started-workers';
import { client } from './support/http';
import { floating, readyCounterparty, readyTraveler, setReference } from './support/market';
import { eventually, startTestApp, TestApp } from './support/test-app';
import { useTestApp } from './support/use-test-app';

// The writer gives up its rows at half the lease: a second, room for a commit on a slow machine.
const LEASE_MS = 2000;

/**
 * The publish right after commit, by the process that committed the outbox rows, against the real PostgreSQL, Redis
 * and BullMQ workers; with the relay as its fallback. Each job run is counted from the worker's own `active` events.
 */
describe('outbox rows published after commit', () => {
  const { test, db } = useTestApp({ OUTBOX_POLL_INTERVAL_MS: '50', OUTBOX_AFTER_COMMIT_LEASE_MS: String(LEASE_MS) });
  let dataSource: DataSource;
  let outbox: OutboxService;
  let relay: OutboxRelay;
  let queue: Queue;
  /** The same queue as the publisher after commit adds to it, on its own connection. */
  let publisherQueue: Queue;
  const runs = new Map<string, number>();

  beforeAll(() => {
    dataSource = test.app.get(DataSource);
    outbox = test.app.get(OutboxService);
    relay = test.app.get(OutboxRelay);
    queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
    publisherQueue = test.app.get(PublisherQueues).get(QUEUES.housekeeping);
    const worker = startedWorkers(test.app.get(DiscoveryService)).find((w) => w.name === QUEUES.housekeeping)!;
    worker.on('active', (job) => runs.set(job.id!, (runs.get(job.id!) ?? 0) + 1));
  });
  afterEach(() => jest.restoreAllMocks());

  const purgeJob = (jobId: string) => ({
    queue: QUEUES.housekeeping,
    jobName: JOBS.housekeeping.purgeIdempotencyKeys,
    jobId,
    payload: { reason: 'test' },
  });

  async function row(jobId: string): Promise<{ published: boolean; attempts: number } | undefined> {
    return (await db.query(`SELECT published_at IS NOT NULL AS published, attempts FROM outbox WHERE job_id = $1`, [jobId])).rows[0];
  }

  async function finished(jobId: string): Promise<void> {
    await eventually(async () => (await queue.getJob(jobId))?.finishedOn);
  }

  it('queues a committed change with the relay stopped, and marks its row published', async () => {
    await relay.stop();
    try {
      await dataSource.transaction((manager) => outbox.write(manager, purgeJob('after-commit-1')));
      await finished('after-commit-1');
      await eventually(async () => (await row('after-commit-1'))?.published);
      expect(await row('after-commit-1')).toEqual({ published: true, attempts: 0 });
      expect(runs.get('after-commit-1')).toBe(1);
    } finally {
      await relay.start();
    }
  });

  it('enqueues nothing for a rolled-back transaction, nor for a savepoint rolled back inside a committed one', async () => {
    await relay.stop();
    try {
      await expect(
        dataSource.transaction(async (manager) => {
          await outbox.write(manager, purgeJob('rolled-back-after-commit'));
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      await dataSource.transaction(async (manager) => {
        await outbox.write(manager, purgeJob('outer-kept'));
        await expect(
          manager.transaction(async (inner) => {
            await outbox.write(inner, purgeJob('inner-rolled-back'));
            throw new Error('the inner change failed');
          }),
        ).rejects.toThrow('the inner change failed');
      });
      await finished('outer-kept');
      // A committed marker behind them, published after commit too, has run: the rolled-back rows would have by now.
      await dataSource.transaction((manager) => outbox.write(manager, purgeJob('marker-after-rollbacks')));
      await finished('marker-after-rollbacks');
      expect(await queue.getJob('rolled-back-after-commit')).toBeUndefined();
      expect(await queue.getJob('inner-rolled-back')).toBeUndefined();
      expect(await row('rolled-back-after-commit')).toBeUndefined();
      expect(await row('inner-rolled-back')).toBeUndefined();
      expect(runs.get('outer-kept')).toBe(1);
    } finally {
      await relay.start();
    }
  });

  it('leaves a row whose publish failed (Redis unreachable) to the relay, which publishes it once', async () => {
    jest.spyOn(publisherQueue, 'addBulk').mockRejectedValueOnce(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    jest.spyOn(queue, 'addBulk');
    await dataSource.transaction((manager) => outbox.write(manager, purgeJob('publish-failed')));
    await finished('publish-failed');
    await eventually(async () => (await row('publish-failed'))?.published);
    // Published by the relay: the writer's add was refused, and the relay waited out the row's lease.
    expect(publisherQueue.addBulk).toHaveBeenCalledTimes(1);
    expect(queue.addBulk).toHaveBeenCalledTimes(1);
    expect(await row('publish-failed')).toEqual({ published: true, attempts: 0 });
    expect(runs.get('publish-failed')).toBe(1);
  });

  it('leaves the rows of a process killed between commit and publish to the relay, which publishes each once', async () => {
    // What a killed writer leaves: committed rows under their after-commit lease, tracked by no process alive.
    await db.query(
      `INSERT INTO outbox (queue, job_name, job_id, payload, created_at, next_attempt_at)
       SELECT 'housekeeping', $1, 'orphaned-by-kill-' || n, '{"reason":"test"}', clock_timestamp(), clock_timestamp() + interval '1 second'
         FROM generate_series(1, 5) AS n`,
      [JOBS.housekeeping.purgeIdempotencyKeys],
    );
    expect(await queue.getJob('orphaned-by-kill-1')).toBeUndefined();
    for (let n = 1; n <= 5; n += 1) await finished(`orphaned-by-kill-${n}`);
    await eventually(
      async () => (await db.query(`SELECT 1 FROM outbox WHERE job_id LIKE 'orphaned-by-kill-%' AND published_at IS NULL`)).rowCount === 0,
    );
    for (let n = 1; n <= 5; n += 1) expect(runs.get(`orphaned-by-kill-${n}`)).toBe(1);
  });

  it('never runs a job twice when its writer and the relay both publish it', async () => {
    // The writer's adds reach Redis only after its rows' lease ran out: the relay publishes them as well.
    const addBulk = publisherQueue.addBulk.bind(publisherQueue);
    let lateAddLandedAt = 0;
    jest.spyOn(publisherQueue, 'addBulk').mockImplementationOnce(async (jobs) => {
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 2));
      const added = await addBulk(jobs);
      lateAddLandedAt = Date.now();
      return added;
    });
    await dataSource.transaction(async (manager) => {
      for (let i = 0; i < 5; i += 1) await outbox.write(manager, purgeJob(`late-writer-${i}`));
    });
    // Many transactions at once, with the relay polling beside them.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        dataSource.transaction(async (manager) => {
          await outbox.write(manager, purgeJob(`concurrent-${i}-a`));
          await outbox.write(manager, purgeJob(`concurrent-${i}-b`));
        }),
      ),
    );
    const ids = [
      ...Array.from({ length: 5 }, (_, i) => `late-writer-${i}`),
      ...Array.from({ length: 40 }, (_, i) => [`concurrent-${i}-a`, `concurrent-${i}-b`]).flat(),
    ];
    for (const id of ids) await finished(id);
    await eventually(async () => (await db.query(`SELECT 1 FROM outbox WHERE published_at IS NULL`)).rowCount === 0, 15000);
    // The relay published the late writer's rows first; then the writer's adds landed, under the same job ids.
    await eventually(async () => lateAddLandedAt > 0);
    expect((await queue.getJob('late-writer-0'))!.processedOn).toBeLessThan(lateAddLandedAt);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ids.filter((id) => runs.get(id) !== 1)).toEqual([]);
  });
});

/** An API process with no workers and no relay publishes what it commits all the same. */
describe('outbox rows published after commit by an API-only process', () => {
  let api: TestApp;
  let workers: TestApp;

  // A funding window and an expiry within their sweep's horizon (2.5 sweeps: 150 s by default, 2.5 h for an hourly
  // expiry sweep), so opening a trade and posting a request queue their jobs at once.
  const settings = { OUTBOX_AFTER_COMMIT_LEASE_MS: '600000', FUNDING_WINDOW_PAYPAL_MS: '120000', EXPIRY_SWEEP_EVERY_MS: '3600000' };

  beforeAll(async () => {
    workers = await startTestApp(settings);
    api = await startTestApp(settings, workers, { workers: false });
    await workers.app.get(OutboxRelay).stop();
  });
  afterAll(async () => {
    await api?.close();
    await workers?.close();
  });

  it('queues the work of a request it accepted, with no relay running anywhere', async () => {
    const http = client(api.baseUrl);
    await setReference(api, '7.2000');
    const traveler = await readyTraveler(http);
    const posted = await http('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '100.00', price: floating(0), paymentMethod: 'paypal', expiresInMinutes: 5 },
    });
    expect(posted.status).toBe(201);
    const market = api.app.get(QueueRegistry).get(QUEUES.market);
    const job = await eventually(async () => market.getJob(`expire-request-${posted.body.id}`));
    expect(await job.getState()).toBe('delayed');
  });

  it('queues the work of a trade it opened in one autocommit statement, and marks both of its rows', async () => {
    const http = client(api.baseUrl);
    await setReference(api, '7.2000');
    const traveler = await readyTraveler(http, 'one-statement-traveler');
    const counterparty = await readyCounterparty(http, 'one-statement-counterparty');
    const posted = await http('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '100.00', price: floating(0), paymentMethod: 'paypal' },
    });
    expect(posted.status).toBe(201);
    const accepted = await http('POST', `/v1/requests/${posted.body.id}/accept`, { token: counterparty.token, body: {} });
    expect(accepted.status).toBe(201);
    const deadlines = api.app.get(QueueRegistry).get(QUEUES.deadlines);
    const job = await eventually(async () => deadlines.getJob(fundingDeadlineJobId(accepted.body.id)));
    expect(await job.getState()).toBe('delayed');
    // The funding deadline and the trade.created fan-out, published by the API process itself (no relay runs).
    const dataSource = api.app.get(DataSource);
    const rows = await eventually(async () => {
      const found: { job_name: string; published: boolean }[] = await dataSource.query(
        `SELECT job_name, published_at IS NOT NULL AS published FROM outbox
          WHERE job_id IN ($1, (SELECT 'fan-out-' || id FROM events WHERE trade_id = $2 AND type = 'trade.created'))`,
        [fundingDeadlineJobId(accepted.body.id), accepted.body.id],
      );
      return found.length === 2 && found.every((row) => row.published) ? found : undefined;
    });
    expect(rows.map((row) => row.job_name).sort()).toEqual([JOBS.deadlines.fundingDeadline, JOBS.events.fanOutEvent].sort());
  });

  it('still queues the work of the requests it answers while it shuts down, before the HTTP server has closed', async () => {
    // What a shutdown does first; the HTTP server closes after it, still answering the requests under way.
    await api.app.get(OutboxPublisher).beforeApplicationShutdown();
    const http = client(api.baseUrl);
    await setReference(api, '7.2000');
    const traveler = await readyTraveler(http, 'closing-traveler');
    const posted = await http('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '100.00', price: floating(0), paymentMethod: 'paypal', expiresInMinutes: 5 },
    });
    expect(posted.status).toBe(201);
    // No relay runs and the rows' lease is ten minutes: only this process can have queued it.
    const market = api.app.get(QueueRegistry).get(QUEUES.market);
    const job = await eventually(async () => market.getJob(`expire-request-${posted.body.id}`));
    expect(await job.getState()).toBe('delayed');
  });
});
