import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { queueKeyPrefix } from '../src/queues/queue-keys';
import { QUEUES } from '../src/queues/queue-names';
import { ensureBuilt } from './support/crash/cluster';
import { deleteRedisKeys, eventually } from './support/test-app';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = join(__dirname, '..');

/**
 * Upgrading from one hash tag for the whole deployment (`{yb}:settlement:…`) to one per queue: `npm run cli --
 * move-queue-keys` moves what was queued under the old names, with every process stopped, so that it carries on.
 */
describe('move-queue-keys (the built CLI, against Redis)', () => {
  const prefix = `{ybt_${randomBytes(5).toString('hex')}}`;
  const connection = { url: REDIS_URL };
  const opened: { close(): Promise<void> }[] = [];
  const redis = new Redis(REDIS_URL);
  const oldQueue = (name: string) => remember(new Queue(name, { connection, prefix }));
  const newQueue = (name: string) => remember(new Queue(name, { connection, prefix: queueKeyPrefix(prefix, name) }));
  function remember<T extends { close(): Promise<void> }>(closable: T): T {
    opened.push(closable);
    return closable;
  }
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'move-queue-keys', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix },
      encoding: 'utf8',
    });
  const oldKeys = async (queue: string) => (await redis.keys(`\\${prefix}:${queue}:*`)).length;

  beforeAll(() => ensureBuilt(), 180000);

  afterAll(async () => {
    await Promise.all(opened.map((q) => q.close().catch(() => undefined)));
    await deleteRedisKeys(prefix);
    redis.disconnect();
  });

  it('moves delayed and waiting jobs and schedules under each queue’s own tag, where workers run them', async () => {
    await oldQueue(QUEUES.deadlines).add('funding-deadline', { tradeId: 't1' }, { jobId: 'deadline-t1-funding', delay: 3600000 });
    await oldQueue(QUEUES.settlement).add('settle-trade', { tradeId: 't1' }, { jobId: 'settle-t1' });
    await oldQueue(QUEUES.housekeeping).upsertJobScheduler('purge-events', { every: 3600000 }, { name: 'purge-events' });
    // A client webhook endpoint's delivery slot: the service's own key, not the webhooks queue's.
    await redis.set(`${prefix}:webhooks:in-flight:endpoint-1`, '1');
    await Promise.all(opened.splice(0).map((q) => q.close()));

    const dry = cli('--dry-run');
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain(`deadlines: `);
    expect(await oldKeys(QUEUES.deadlines)).toBeGreaterThan(0);

    const moved = cli();
    expect({ status: moved.status, stderr: moved.stderr }).toEqual({ status: 0, stderr: '' });
    for (const queue of [QUEUES.deadlines, QUEUES.settlement, QUEUES.housekeeping]) expect(await oldKeys(queue)).toBe(0);
    expect(await redis.get(`${prefix}:webhooks:in-flight:endpoint-1`)).toBe('1');

    const deadline = await newQueue(QUEUES.deadlines).getJob('deadline-t1-funding');
    expect(await deadline?.getState()).toBe('delayed');
    expect(deadline?.data).toEqual({ tradeId: 't1' });
    expect(await newQueue(QUEUES.housekeeping).getJobScheduler('purge-events')).toMatchObject({ every: 3600000 });
    const ran: string[] = [];
    const worker = remember(
      new Worker(QUEUES.settlement, async (job) => void ran.push(`${job.id}`), {
        connection,
        prefix: queueKeyPrefix(prefix, QUEUES.settlement),
      }),
    );
    await eventually(async () => ran.length > 0);
    await worker.close();
    expect(ran).toEqual(['settle-t1']);

    const again = cli();
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('nothing to do');
  });

  it('refuses while a worker is connected, or once the new version has keys; --delete removes the old ones', async () => {
    await oldQueue(QUEUES.market).add('expire-request', { requestId: 'r1' }, { jobId: 'expire-request-r1', delay: 3600000 });
    const old = remember(new Worker(QUEUES.market, async () => undefined, { connection, prefix, autorun: false }));
    await old.waitUntilReady();
    const busy = cli();
    expect(busy.status).toBe(1);
    expect(busy.stderr).toContain('market: 1 worker(s) connected');
    await old.close();

    // The new version started first: its queue wrote its keys.
    await newQueue(QUEUES.market).waitUntilReady();
    await eventually(async () => (await redis.exists(`${queueKeyPrefix(prefix, QUEUES.market)}:${QUEUES.market}:meta`)) === 1);
    const taken = cli();
    expect(taken.status).toBe(1);
    expect(taken.stderr).toContain('the new version ran (use --delete)');
    expect(await oldKeys(QUEUES.market)).toBeGreaterThan(0);

    const deleted = cli('--delete');
    expect(deleted.status).toBe(0);
    expect(await oldKeys(QUEUES.market)).toBe(0);
    expect(await newQueue(QUEUES.market).getJob('expire-request-r1')).toBeUndefined();
  });
});
