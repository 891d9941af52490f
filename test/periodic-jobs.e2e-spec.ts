import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { fixed, readyCounterparty, readyTraveler } from './support/market';
import { deleteRedisKeys, eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';

/**
 * Redis is a cache of work: when it loses every key of the service (flushed, or failed over to an empty replica),
 * the periodic jobs come back by themselves and the sweeps apply what the lost jobs would have done.
 */
describe('Periodic jobs after Redis lost its keys (HTTP)', () => {
  const { test, api } = useTestApp(
    {
      RATE_FEED_WALK_BPS: '0',
      PERIODIC_JOBS_CHECK_EVERY_MS: '300',
      DEADLINE_SWEEP_EVERY_MS: '500',
      FUNDING_WINDOW_PAYPAL_MS: '1500',
    },
    { reference: '7.2400' },
  );

  const schedules: [string, string][] = [
    [QUEUES.deadlines, JOBS.deadlines.sweepDeadlines],
    [QUEUES.settlement, JOBS.settlement.sweepProviderWork],
    [QUEUES.market, JOBS.market.sweepExpiredRequests],
    [QUEUES.rates, JOBS.rates.refreshReference],
    [QUEUES.housekeeping, JOBS.housekeeping.purgeIdempotencyKeys],
    [QUEUES.housekeeping, JOBS.housekeeping.purgePublishedOutbox],
    [QUEUES.housekeeping, JOBS.housekeeping.eraseHandleSnapshots],
    [QUEUES.housekeeping, JOBS.housekeeping.eraseMessageTexts],
    [QUEUES.housekeeping, JOBS.housekeeping.purgeEvents],
    [QUEUES.reconciliation, JOBS.reconciliation.reconcile],
    [QUEUES.webhooks, JOBS.webhooks.sweepDeliveries],
    [QUEUES.events, JOBS.events.sweepFanOut],
  ];
  const registered = async () => {
    const queues = test.app.get(QueueRegistry);
    const found = await Promise.all(schedules.map(([queue, name]) => queues.get(queue as never).getJobScheduler(name)));
    return found.map(Boolean);
  };

  it('registers every periodic job again, and the deadline sweep expires a trade whose own deadline job was lost', async () => {
    expect(await registered()).toEqual(schedules.map(() => true));
    const traveler = await readyTraveler(api);
    const counterparty = await readyCounterparty(api);
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '500.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    const trade = (await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} })).body;
    // Wait for the trade's funding deadline job to be in Redis, then lose everything.
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    const queued = await eventually(async () => deadlines.getJob(`deadline-${trade.id}-funding`));
    expect(await deleteRedisKeys(test.queuePrefix)).toBeGreaterThan(0);
    // Gone, or queued afresh by a deadline sweep that was running as the keys went (it offers nearing deadlines).
    const after = await deadlines.getJob(`deadline-${trade.id}-funding`);
    expect(after === undefined || after.timestamp > queued.timestamp).toBe(true);

    await eventually(async () => (await registered()).every(Boolean), 10000);
    await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state === 'expired', 15000);
  });
});
