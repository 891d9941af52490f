import { Redis } from 'ioredis';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { eventually } from './support/test-app';
import { quietRates, fastProviders } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { newTrade, tradeState } from './support/trades';

/**
 * A Redis flush that runs key by key while workers write can leave a job's data without its place in any
 * queue list: BullMQ then takes the job id as taken, and a new job under it is dropped as a duplicate. The
 * same holds for a job BullMQ failed because it stalled twice (two workers killed while it ran). The
 * deadline sweep must still get a funded trade past its payout window to its last search and refund.
 */
describe('last search lost in Redis (HTTP)', () => {
  const { test, api } = useTestApp(
    { ...quietRates, ...fastProviders, PAYOUT_WINDOW_MS: '1500' },
    { reference: '7.2400', checkBooks: true },
  );

  const queue = (name: string) => test.app.get(QueueRegistry).get(name);

  /**
   * A funded PayPal trade past its payout window whose last search job Redis holds but will never run: `leave`
   * puts the job, taken out of every queue list, where the crash left it. Then the deadline sweep runs once.
   */
  async function lastSearchLeft(leave: (redis: Redis, jobKey: string, jobId: string) => Promise<unknown>) {
    const { traveler, trade } = await newTrade(api, { paymentMethod: 'paypal' });
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    // WeChat unreachable: the last search keeps asking and the trade stays funded.
    await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', down: true } });
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: 'traveler-paypal@example.com' } });
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');

    const verification = queue(QUEUES.verification);
    const search = await eventually(async () => {
      const jobs = await verification.getJobs(['delayed', 'waiting', 'active']);
      return jobs.find((j) => j.name === JOBS.verification.lastSearch && j.data.tradeId === trade.id && j.attemptsMade > 0);
    });
    // Held still (no worker takes a job) while its lists are deleted, as a flush does key by key.
    await verification.pause();
    await eventually(async () => (await verification.getJob(search.id!))?.getState().then((s) => s !== 'active'));
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const key = (name: string) => verification.toKey(name);
    try {
      await redis.del(...['wait', 'paused', 'delayed', 'active', 'prioritized', 'marker'].map(key));
      await leave(redis, key(search.id!), search.id!);
    } finally {
      redis.disconnect();
    }
    await verification.resume();
    await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
    const state = await (await verification.getJob(search.id!))?.getState();

    const deadlines = queue(QUEUES.deadlines);
    const sweep = await deadlines.add(JOBS.deadlines.sweepDeadlines, {});
    await eventually(async () => (await deadlines.getJob(sweep.id!))?.finishedOn);
    return {
      state,
      refunded: () => eventually(async () => ['refunding', 'refunded'].includes(await tradeState(api, trade.id, traveler.token)), 15000),
    };
  }

  it('refunds a funded trade past its payout window whose last search job a flush left in no queue list', async () => {
    const left = await lastSearchLeft(async () => undefined);
    expect(left.state).toBe('unknown');
    await left.refunded();
  });

  it('refunds a funded trade past its payout window whose last search job failed on stalling twice (its worker killed)', async () => {
    // What BullMQ does to a job stalled more than maxStalledCount times, whatever attempts it had left.
    const left = await lastSearchLeft(async (redis, jobKey, jobId) => {
      const now = Date.now();
      await redis.hset(jobKey, 'failedReason', 'job stalled more than allowable limit', 'finishedOn', String(now));
      await redis.zadd(queue(QUEUES.verification).toKey('failed'), now, jobId);
    });
    expect(left.state).toBe('failed');
    await left.refunded();
  });
});
