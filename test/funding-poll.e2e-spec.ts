import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { completedJobResult, eventually } from './support/test-app';
import { fundAtPaypal, paypalTrade } from './support/paypal-trades';
import { fastBank, settling } from './support/settings';
import { newTrade, tradeState } from './support/trades';
import { useTestApp } from './support/use-test-app';

/**
 * The funding poll (`check-funding-<trade>-poll`) of a trade funded by its webhook or callback is removed once
 * funding commits: it would only find the trade funded. The poll is ten minutes away here, so it never runs on
 * its own during a test; `test/paypal-funding.e2e-spec.ts` funds a trade by the poll alone when PayPal's webhooks
 * are dropped.
 */
describe('The funding poll of a trade funded by its webhook (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    { ...settling, ...fastBank, PROVIDER_POLL_EVERY_MS: '600000', PROVIDER_POLL_MAX_EVERY_MS: '600000' },
    { reference: '7.2400' },
  );

  const funding = () => test.app.get(QueueRegistry).get(QUEUES.funding);
  const pollId = (tradeId: string) => `check-funding-${tradeId}-poll`;

  it("removes a PayPal trade's poll once its webhook's check has funded it", async () => {
    const { traveler, trade } = await paypalTrade(api, '100.00');
    const order = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(order.status).toBe(201);
    // Queued with the order, ten minutes away.
    const poll = await eventually(async () => funding().getJob(pollId(trade.id)));
    expect(await poll.getState()).toBe('delayed');

    await api('POST', `/sandbox/paypal/orders/${order.body.orderId}/approve`, { body: { payerEmail: 'traveler-paypal@example.com' } });
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    // Removed by the check that funded it, after its commit: nothing is left to run for the trade's funding.
    await eventually(async () => (await funding().getJob(pollId(trade.id))) === undefined);
    await expectClean();
  });

  it('records one order and one poll for two funding requests at once, and the poll is still removed on funding', async () => {
    const { traveler, trade } = await paypalTrade(api, '100.00');
    const start = () => api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    const answers = await Promise.all([start(), start()]);
    expect(answers.map((a) => [200, 201].includes(a.status))).toEqual([true, true]);
    expect(answers[1].body.orderId).toBe(answers[0].body.orderId);
    // The order with its poll's row in one statement: a row for each request that made it, one job in the queue.
    const rows = await db.query(`SELECT count(*)::int AS n FROM outbox WHERE job_id = $1`, [pollId(trade.id)]);
    expect(rows.rows[0].n).toBe(answers.filter((a) => a.status === 201).length);
    expect(await (await eventually(async () => funding().getJob(pollId(trade.id))))?.getState()).toBe('delayed');
    await api('POST', `/sandbox/paypal/orders/${answers[0].body.orderId}/approve`, { body: { payerEmail: 'traveler-paypal@example.com' } });
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    await eventually(async () => (await funding().getJob(pollId(trade.id))) === undefined);
  });

  it("removes a bank trade's poll once the bank's callback has funded it", async () => {
    const { traveler, trade } = await newTrade(api, { paymentMethod: 'bank_transfer' });
    const reference = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(reference.status).toBe(201);
    await eventually(async () => funding().getJob(pollId(trade.id)));
    const sent = await api('POST', '/sandbox/bank/incoming', { body: { reference: reference.body.reference, amountUsd: '138.12' } });
    expect(sent.status).toBe(202);
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    await eventually(async () => (await funding().getJob(pollId(trade.id))) === undefined);
    await expectClean();
  });

  it('runs a poll published only after funding committed (a late publish): it finds the trade funded and does nothing', async () => {
    const { traveler, trade } = await paypalTrade(api, '100.00');
    await fundAtPaypal(api, trade, traveler);
    await eventually(async () => (await funding().getJob(pollId(trade.id))) === undefined);
    // The poll's outbox row published after the removal, as the relay would publish a row its writer could not.
    await funding().add(JOBS.funding.checkFunding, { tradeId: trade.id }, { jobId: pollId(trade.id) });
    expect(await completedJobResult(funding(), pollId(trade.id))).toEqual({ outcome: 'nothing' });
    expect(await tradeState(api, trade.id, traveler.token)).toBe('funded');
    await expectClean();
  });

  it('keeps the poll of a trade that ended unfunded: it may still find an authorization to void', async () => {
    const { traveler, trade } = await paypalTrade(api, '100.00');
    const order = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(order.status).toBe(201);
    await eventually(async () => funding().getJob(pollId(trade.id)));
    expect((await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token, body: {} })).body.state).toBe('cancelled');
    expect(await (await funding().getJob(pollId(trade.id)))?.getState()).toBe('delayed');
  });
});
