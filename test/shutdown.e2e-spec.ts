import { Queue } from 'bullmq';
import { Client } from 'pg';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { queueKeyPrefix } from '../src/queues/queue-keys';
import { QueueRegistry } from '../src/queues/queue-registry';
import { Api, client } from './support/http';
import { deleteRedisKeys, dropDatabase, eventually, startTestApp } from './support/test-app';

interface LogLine {
  time: number;
  level: number;
  msg: string;
  context?: string;
  req?: { url: string };
  res?: { statusCode: number };
}

/** The bank's transfer reads answer slowly (well within its client's 10 s timeout). */
async function slowBank(api: Api): Promise<void> {
  const faults = await api('PUT', '/sandbox/faults', { body: { provider: 'bank', latencyMs: 3000, paths: ['/v1/transfers'] } });
  expect(faults.status).toBe(200);
}

/** A call to the bank's mock has been counted since the faults were set: it is waiting out its latency. */
async function bankCallWaiting(db: Client): Promise<void> {
  await eventually(async () => {
    const { rows } = await db.query(`SELECT calls FROM sandbox_faults WHERE provider = 'bank'`);
    return Number(rows[0]?.calls ?? 0) > 0;
  });
}

/**
 * Closing the service while a job is in flight: the job workers stop first and their active jobs finish, and then the
 * HTTP server closes. A job calling the sandbox's mocks on this same service (the provider-work sweep reading the
 * bank's settled transfers) is answered, and its connection does not hold the close until the keep-alive timeout.
 */
describe('Closing the service during a provider-work sweep (HTTP)', () => {
  it('lets the sweep finish, answers its bank call, then stops the workers, the relay and the server, with no warning', async () => {
    const test = await startTestApp();
    const db = new Client({ connectionString: test.databaseUrl });
    await db.connect();
    try {
      const api = client(test.baseUrl);
      await slowBank(api);
      const queue = test.app.get(QueueRegistry).get(QUEUES.settlement);
      await queue.add(JOBS.settlement.sweepProviderWork, {}, { jobId: 'sweep-at-shutdown' });
      await eventually(async () => (await (await queue.getJob('sweep-at-shutdown'))?.getState()) === 'active');
      await bankCallWaiting(db);

      const closeBegan = Date.now();
      await test.app.close();

      const log = () =>
        test
          .readLog()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as LogLine);
      await eventually(async () => log().some((line) => line.msg === 'Outbox relay stopped'));
      const during = log().filter((line) => line.time >= closeBegan);
      // Nothing at warning level or above: a normal shutdown is not an incident.
      expect(during.filter((line) => line.level >= 40)).toEqual([]);
      const at = (found: (line: LogLine) => boolean) => during.findIndex(found);
      // The log shows no query strings: the sweep's read is one of the bank calls answered during the close.
      const bankAnswered = at((line) => !!line.req?.url.startsWith('/sandbox/bank/v1/transfers') && line.res?.statusCode === 200);
      const workersStopped = at((line) => line.context === 'WorkerShutdown' && line.msg === 'Job workers stopped');
      const relayStopped = at((line) => line.msg === 'Outbox relay stopped');
      expect(bankAnswered).toBeGreaterThanOrEqual(0);
      expect(workersStopped).toBeGreaterThan(bankAnswered);
      expect(relayStopped).toBeGreaterThan(workersStopped);

      // The sweep ran to its end: its job completed, with its outcome.
      const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      const reader = new Queue(QUEUES.settlement, {
        connection: { host: url.hostname, port: Number(url.port || 6379) },
        prefix: queueKeyPrefix(test.queuePrefix, QUEUES.settlement),
      });
      try {
        const job = await reader.getJob('sweep-at-shutdown');
        expect(await job?.getState()).toBe('completed');
        expect(job?.returnvalue).toEqual({ outcome: 'requeued 0' });
      } finally {
        await reader.close();
      }
    } finally {
      await db.end();
      await dropDatabase(test.databaseUrl);
      await deleteRedisKeys(test.queuePrefix);
    }
  });

  it("answers a client's request in flight when the server closes, and ends its connection with the answer", async () => {
    const test = await startTestApp();
    const db = new Client({ connectionString: test.databaseUrl });
    await db.connect();
    try {
      const api = client(test.baseUrl);
      // A mock no job of an idle service calls: the workers stop at once, and the request is still in flight when
      // the HTTP server closes. Kept alive, its connection would hold the close for the keep-alive timeout (72 s).
      const faults = await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', latencyMs: 3000, paths: ['/v3/certificates'] } });
      expect(faults.status).toBe(200);
      const answer = api('GET', '/sandbox/wechat/v3/certificates');
      await eventually(async () => {
        const { rows } = await db.query(`SELECT calls FROM sandbox_faults WHERE provider = 'wechat'`);
        return Number(rows[0]?.calls ?? 0) > 0;
      });
      await test.app.close();
      const response = await answer;
      // Unsigned, so refused; what matters is that it was answered, and asked to close its connection.
      expect(response.status).toBe(401);
      expect(response.headers.get('connection')).toBe('close');
    } finally {
      await db.end();
      await dropDatabase(test.databaseUrl);
      await deleteRedisKeys(test.queuePrefix);
    }
  });
});
