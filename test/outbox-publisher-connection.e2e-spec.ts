import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { loadRedisConfig } from '../src/config';
import { PublisherQueues } from '../src/outbox/publisher-queues';
import { QUEUES } from '../src/queues/queue-names';
import { queueKeyPrefix } from '../src/queues/queue-keys';
import { redisOptions } from '../src/redis/redis.module';
import { startTcpProxy, TcpProxy } from './support/tcp-proxy';
import { eventually } from './support/test-app';

const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

/**
 * The publisher after commit gives a publish up at half its rows' lease and leaves them to the relay: an add it gave
 * up on must not reach Redis later. Against the real Redis, through a proxy that takes Redis away and brings it back.
 */
describe("the outbox publisher's connection to Redis", () => {
  const prefix = `{pubconn_${process.pid}_${Date.now().toString(36)}}`;
  const queueName = QUEUES.housekeeping;
  let proxy: TcpProxy;
  let direct: Queue;

  beforeAll(async () => {
    proxy = await startTcpProxy(REDIS_URL.hostname, Number(REDIS_URL.port || 6379));
    const config = loadRedisConfig({ REDIS_URL: REDIS_URL.toString(), QUEUE_PREFIX: prefix });
    direct = new Queue(queueName, { connection: redisOptions(config), prefix: queueKeyPrefix(prefix, queueName) });
  });

  afterAll(async () => {
    await direct?.obliterate({ force: true }).catch(() => undefined);
    await direct?.close();
    await proxy?.close();
  });

  const throughProxy = () => loadRedisConfig({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, QUEUE_PREFIX: prefix });

  const job = (jobId: string) => ({ name: 'purge-idempotency-keys', data: {}, opts: { jobId } });

  it('refuses an add while Redis is away, and that add never lands once Redis is back', async () => {
    const queues = new PublisherQueues(throughProxy());
    const queue = queues.get(queueName);
    const refused: string[] = [];
    try {
      await queue.waitUntilReady();
      await proxy.stop();
      // Adds sent before the connection noticed are answered or fail as the connection drops: only refusals count here.
      await eventually(async () => {
        const jobId = `given-up-${refused.length}-${Date.now()}`;
        return queue.addBulk([job(jobId)]).then(
          () => false,
          () => refused.push(jobId) > 0,
        );
      });
    } finally {
      await proxy.resume();
    }
    try {
      // Anything the connection had held would be sent on reconnecting, before this add.
      await eventually(async () =>
        queue.addBulk([job('after-return')]).then(
          () => true,
          () => false,
        ),
      );
      expect(await direct.getJob('after-return')).toBeDefined();
      for (const jobId of refused) expect(await direct.getJob(jobId)).toBeUndefined();
    } finally {
      await queues.close();
    }
  });

  it('differs from a connection with the defaults, which holds such an add and sends it once Redis is back', async () => {
    const connection = new Redis(redisOptions(throughProxy())).on('error', () => undefined);
    const queue = new Queue(queueName, { connection, prefix: queueKeyPrefix(prefix, queueName) }).on('error', () => undefined);
    try {
      await queue.waitUntilReady();
      const reconnecting = new Promise((resolve) => connection.once('reconnecting', resolve));
      let held: Promise<unknown>;
      try {
        await proxy.stop();
        await reconnecting;
        held = queue.addBulk([job('held-and-sent')]);
      } finally {
        await proxy.resume();
      }
      await held;
      expect(await direct.getJob('held-and-sent')).toBeDefined();
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
