import type { Queue } from 'bullmq';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import type { Api } from './support/http';
import { eventually } from './support/test-app';
import { distantDeadlines, quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundTrade, newTrade, tradeState } from './support/trades';

/** A funded trade, both parties with WeChat wallets at the mock, and the counterparty's transfer of its 1000 CNY. */
async function paidTradeAt(api: Api, processingMs = 0) {
  const opened = await newTrade(api);
  const { travelerWechat, counterpartyWechat } = opened.handles;
  await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: travelerWechat, balanceCny: '0.00' } });
  await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: counterpartyWechat, balanceCny: '5000.00' } });
  const funded = await fundTrade(api, opened);
  const sent = await api('POST', '/sandbox/wechat/transfers', {
    body: { fromWechatId: counterpartyWechat, toWechatId: travelerWechat, amountCny: '1000.00', processingMs },
  });
  expect(sent.status).toBe(201);
  return { ...funded, transferId: sent.body.transferId as string };
}

/**
 * A funding check and a reported payout's verification are run by the process that committed their outbox row, right
 * after the commit: with their queues paused (no worker takes a job) a trade still funds and releases, and no job is
 * queued. Their jobs stay the fallback: "not yet", a provider failing, or as many checks under way as a worker runs
 * at once each leave the work to its job. The polls are ten minutes apart here, so only the work after the commit
 * (or a job the test lets run) can move a trade.
 */
describe('Provider checks run after the commit (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    {
      ...quietRates,
      ...distantDeadlines,
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '100',
      PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '100',
      PROVIDER_POLL_EVERY_MS: '600000',
      PROVIDER_POLL_MAX_EVERY_MS: '600000',
      // One verification at a time in a process, as one worker slot.
      VERIFICATION_WORKER_CONCURRENCY: '1',
    },
    { reference: '7.2400' },
  );

  const queue = (name: string): Queue => test.app.get(QueueRegistry).get(name);
  const state = (tradeId: string, token: string) => tradeState(api, tradeId, token);
  const setWechatFaults = (settings: Record<string, unknown>) =>
    api('PUT', '/sandbox/faults', { body: { provider: 'wechat', ...settings } });
  const published = async (jobId: string) =>
    (await db.query(`SELECT published_at IS NOT NULL AS published FROM outbox WHERE job_id = $1`, [jobId])).rows.map(
      (row: { published: boolean }) => row.published,
    );

  afterEach(async () => {
    await setWechatFaults({});
    await Promise.all([queue(QUEUES.funding).resume(), queue(QUEUES.verification).resume()]);
  });

  const paidTrade = (processingMs = 0) => paidTradeAt(api, processingMs);

  const report = (trade: { id: string }, token: string, wechatTransferId: string) =>
    api('POST', `/v1/trades/${trade.id}/payout`, { token, body: { wechatTransferId } });

  it("funds a trade by its webhook's check in the process that took the webhook, no check job queued", async () => {
    const funding = queue(QUEUES.funding);
    await funding.pause();
    const { trade } = await fundTrade(api, await newTrade(api));
    const checks = (
      await db.query(`SELECT job_id FROM outbox WHERE job_name = 'check-funding' AND payload->>'tradeId' = $1 AND job_id <> $2`, [
        trade.id,
        `check-funding-${trade.id}-poll`,
      ])
    ).rows.map((row: { job_id: string }) => row.job_id);
    expect(checks.length).toBeGreaterThan(0);
    for (const jobId of checks) {
      expect(await funding.getJob(jobId)).toBeUndefined();
      await eventually(async () => (await published(jobId)).every(Boolean));
    }
    await expectClean();
  });

  it("leaves a webhook's funding check to its job when PayPal fails, and the job funds the trade", async () => {
    const funding = queue(QUEUES.funding);
    const opened = await newTrade(api);
    const started = await api('POST', `/v1/trades/${opened.trade.id}/funding`, { token: opened.traveler.token, body: {} });
    expect(started.status).toBe(201);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', errorRate: 1, paths: ['/v2/checkout/orders/'] } });
    try {
      await api('POST', `/sandbox/paypal/orders/${started.body.orderId}/approve`, { body: { payerEmail: opened.handles.travelerPaypal } });
      const jobId = await eventually(async () => {
        const { rows } = await db.query(
          `SELECT job_id FROM outbox WHERE job_name = 'check-funding' AND payload->>'tradeId' = $1 AND job_id <> $2`,
          [opened.trade.id, `check-funding-${opened.trade.id}-poll`],
        );
        return rows[0]?.job_id as string | undefined;
      });
      const job = await eventually(async () => funding.getJob(jobId));
      expect(await job.getState()).toBe('delayed');
      expect(job.opts.delay).toBeGreaterThan(500_000);
      expect(await state(opened.trade.id, opened.traveler.token)).toBe('awaiting_funding');
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
      await job.promote();
      await eventually(async () => (await state(opened.trade.id, opened.traveler.token)) === 'funded');
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    await expectClean();
  });

  it('verifies a reported payout in the process that took the report, no verify job queued', async () => {
    const verification = queue(QUEUES.verification);
    await verification.pause();
    const { trade, traveler, counterparty, transferId } = await paidTrade();
    expect((await report(trade, counterparty.token, transferId)).status).toBe(200);
    await eventually(async () => ['releasing', 'completed'].includes(await state(trade.id, traveler.token)));
    expect(await verification.getJob(`verify-${trade.id}`)).toBeUndefined();
    await eventually(async () => (await published(`verify-${trade.id}`)).every(Boolean));
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    await expectClean();
  });

  it('leaves a transfer WeChat still processes to its job, due at the poll interval', async () => {
    const verification = queue(QUEUES.verification);
    const { trade, traveler, counterparty, transferId } = await paidTrade(3_600_000);
    expect((await report(trade, counterparty.token, transferId)).status).toBe(200);
    const job = await eventually(async () => verification.getJob(`verify-${trade.id}`));
    expect(await job.getState()).toBe('delayed');
    // Due a poll interval from the check, as the job's own first retry would be.
    expect(job.opts.delay).toBeGreaterThan(500_000);
    expect(await state(trade.id, traveler.token)).toBe('payout_sent');
    await job.remove();
  });

  it('leaves the verification to its job when WeChat fails, and the job releases the trade', async () => {
    const verification = queue(QUEUES.verification);
    const { trade, traveler, counterparty, transferId } = await paidTrade();
    await setWechatFaults({ errorRate: 1, paths: ['/v3/wallet-transfers/'] });
    expect((await report(trade, counterparty.token, transferId)).status).toBe(200);
    const job = await eventually(async () => verification.getJob(`verify-${trade.id}`));
    expect(await job.getState()).toBe('delayed');
    expect(await state(trade.id, traveler.token)).toBe('payout_sent');
    await setWechatFaults({});
    await job.promote();
    await eventually(async () => ['releasing', 'completed'].includes(await state(trade.id, traveler.token)));
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    await expectClean();
  });

  it('queues the job of a verification that finds as many under way in the process as a worker runs', async () => {
    const verification = queue(QUEUES.verification);
    const [first, second] = [await paidTrade(), await paidTrade()];
    // Each check waits 1.5 s on WeChat: the second report commits while the first check still runs.
    await setWechatFaults({ latencyMs: 1500, paths: ['/v3/wallet-transfers/'] });
    await verification.pause();
    const answers = await Promise.all([
      report(first.trade, first.counterparty.token, first.transferId),
      report(second.trade, second.counterparty.token, second.transferId),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    const queued = await eventually(async () => {
      const jobs = await Promise.all([verification.getJob(`verify-${first.trade.id}`), verification.getJob(`verify-${second.trade.id}`)]);
      return jobs.filter(Boolean).length > 0 && jobs;
    });
    // One waits in the paused queue; the other was run here and released its trade.
    expect(queued.filter(Boolean)).toHaveLength(1);
    const ranHere = queued[0] ? second : first;
    await eventually(async () => ['releasing', 'completed'].includes(await state(ranHere.trade.id, ranHere.traveler.token)), 15000);
    const waiting = queued[0] ? first : second;
    expect(await queued.find(Boolean)!.getState()).toBe('waiting');
    expect(await state(waiting.trade.id, waiting.traveler.token)).toBe('payout_sent');
    await verification.resume();
    for (const trade of [first, second]) {
      await eventually(async () => (await state(trade.trade.id, trade.traveler.token)) === 'completed', 20000);
    }
    await expectClean();
  });
});

describe('Provider checks run after the commit: a funding poll due soon (HTTP)', () => {
  const { test, api, expectClean } = useTestApp(
    { ...quietRates, ...distantDeadlines, PROVIDER_POLL_EVERY_MS: '1000', PROVIDER_POLL_MAX_EVERY_MS: '1000' },
    { reference: '7.2400' },
  );

  it('queues the poll as its job, which the funding removes, and never runs it in the process', async () => {
    const funding = test.app.get(QueueRegistry).get(QUEUES.funding);
    const opened = await newTrade(api);
    const started = await api('POST', `/v1/trades/${opened.trade.id}/funding`, { token: opened.traveler.token, body: {} });
    expect(started.status).toBe(201);
    // Due in a second: a poll run in the process could not be taken back when the trade funds; its job can.
    const poll = await eventually(async () => funding.getJob(`check-funding-${opened.trade.id}-poll`), 800, 20);
    expect(await poll.getState()).toBe('delayed');
    await api('POST', `/sandbox/paypal/orders/${started.body.orderId}/approve`, { body: { payerEmail: opened.handles.travelerPaypal } });
    await eventually(async () => (await tradeState(api, opened.trade.id, opened.traveler.token)) === 'funded');
    await eventually(async () => (await funding.getJob(`check-funding-${opened.trade.id}-poll`)) === undefined);
    await expectClean();
  });
});

describe('Provider checks run after the commit: work that outlasts its budget (HTTP)', () => {
  // A lease of 2 s leaves the work after the commit about 0.75 s before its job is queued instead.
  const { test, api, expectClean } = useTestApp(
    {
      ...quietRates,
      ...distantDeadlines,
      PROVIDER_POLL_EVERY_MS: '600000',
      PROVIDER_POLL_MAX_EVERY_MS: '600000',
      OUTBOX_AFTER_COMMIT_LEASE_MS: '2000',
      VERIFICATION_WORKER_CONCURRENCY: '1',
    },
    { reference: '7.2400' },
  );

  const paidTrade = () => paidTradeAt(api);

  it('queues the job of work that outlasted its budget, and counts that work until it ends', async () => {
    const verification = test.app.get(QueueRegistry).get(QUEUES.verification);
    const [first, second] = [await paidTrade(), await paidTrade()];
    await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', latencyMs: 2500, paths: ['/v3/wallet-transfers/'] } });
    await verification.pause();
    try {
      const reported = await api('POST', `/v1/trades/${first.trade.id}/payout`, {
        token: first.counterparty.token,
        body: { wechatTransferId: first.transferId },
      });
      expect(reported.status).toBe(200);
      // Its budget over, the first verification's job is queued while its WeChat call still waits.
      await eventually(async () => verification.getJob(`verify-${first.trade.id}`), 2000, 20);
      const secondReport = await api('POST', `/v1/trades/${second.trade.id}/payout`, {
        token: second.counterparty.token,
        body: { wechatTransferId: second.transferId },
      });
      expect(secondReport.status).toBe(200);
      // The first one still runs here, so the second is its job's from the start: queued at once, not when its own
      // budget (0.75 s) would have run out.
      const job = await eventually(async () => verification.getJob(`verify-${second.trade.id}`), 400, 20);
      expect(await job.getState()).toBe('waiting');
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
      await verification.resume();
    }
    for (const trade of [first, second]) {
      await eventually(async () => (await tradeState(api, trade.trade.id, trade.traveler.token)) === 'completed', 20000);
    }
    await expectClean();
  });
});
