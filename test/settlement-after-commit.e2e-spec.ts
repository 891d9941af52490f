import type { Job } from 'bullmq';
import { settleJobId } from '../src/queues/job-ids';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { LedgerCheckService } from '../src/trades/ledger-check.service';
import { eventually } from './support/test-app';
import { distantDeadlines, fastProviders, quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundedTrade, tradeState } from './support/trades';

/**
 * A decided trade's settlement, and the run a payout's webhook starts, are made by the process that committed their
 * `settle-trade` row, right after the commit: with the settlement queue paused (no worker takes a job) a released
 * PayPal trade still completes. The job stays the fallback: while PayPal's payout is pending the run leaves its job
 * due at the poll interval (ten minutes here, so only work after a commit can move the trade in time), which the
 * run that completes the trade removes; a failed run leaves its job with the failure counted toward the flag.
 */
describe('Settlement run after the commit (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    {
      ...quietRates,
      ...fastProviders,
      ...distantDeadlines,
      // The payout is pending for four seconds: long enough to see the first run's poll waiting.
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '4000',
      PROVIDER_POLL_EVERY_MS: '600000',
      PROVIDER_POLL_MAX_EVERY_MS: '600000',
      PROVIDER_WORK_SWEEP_EVERY_MS: '3600000',
      SETTLEMENT_FLAG_AFTER_ATTEMPTS: '2',
    },
    { reference: '7.2400' },
  );

  const settlement = () => test.app.get(QueueRegistry).get(QUEUES.settlement);
  const settleJobsOf = async (tradeId: string): Promise<Job[]> =>
    (await settlement().getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])).filter(
      (job) => job.name === 'settle-trade' && (job.data as { tradeId?: string }).tradeId === tradeId,
    );
  const published = async (tradeId: string) =>
    (
      await db.query(
        `SELECT job_id, published_at IS NOT NULL AS published FROM outbox WHERE job_name = 'settle-trade' AND payload->>'tradeId' = $1`,
        [tradeId],
      )
    ).rows as { job_id: string; published: boolean }[];
  const flagged = async (tradeId: string) =>
    (await db.query(`SELECT settlement_failing FROM trades WHERE id = $1`, [tradeId])).rows[0].settlement_failing as boolean;

  afterEach(async () => {
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    await settlement().resume();
    expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  });

  it('completes a released trade with no settlement job run: the payout’s webhook finishes it, the pending poll is removed', async () => {
    const { trade, traveler } = await fundedTrade(api);
    await settlement().pause();
    expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token })).status).toBe(200);
    // The first run began the payout and found it pending: its poll waits ten minutes out, in the paused queue.
    const poll = await eventually(async () => {
      const job = await settlement().getJob(settleJobId(trade.id, 'releasing'));
      return job && (await job.getState()) === 'delayed' && job;
    }, 10000);
    expect(poll.opts.delay).toBeGreaterThan(500_000);
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    // The decision's row and the webhook's are both done here: marked published, no job run for either.
    await eventually(async () => {
      const rows = await published(trade.id);
      return rows.length >= 2 && rows.every((row) => row.published);
    });
    expect((await published(trade.id)).map((row) => row.job_id)).toContain(settleJobId(trade.id, 'releasing'));
    // The first run left its poll due in ten minutes while the payout was pending; the completing run removed it.
    await eventually(async () => (await settleJobsOf(trade.id)).length === 0);
    await expectClean();
  });

  it('leaves a failed settlement to its job, the failure counted: flagged at the job’s first failure, cleared when it settles', async () => {
    const { trade, traveler } = await fundedTrade(api);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', errorRate: 1, paths: ['/v2/payments/authorizations'] } });
    expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token })).status).toBe(200);
    const job = await eventually(async () => settlement().getJob(settleJobId(trade.id, 'releasing')));
    expect(await job.getState()).toBe('delayed');
    expect(job.opts.delay).toBeGreaterThan(500_000);
    expect(job.data).toEqual({ tradeId: trade.id, failedBefore: 1 });
    // One failure of the two that flag the trade.
    expect(await flagged(trade.id)).toBe(false);
    await job.promote();
    await eventually(async () => flagged(trade.id));
    expect(await tradeState(api, trade.id, traveler.token)).toBe('releasing');
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    const retry = await eventually(async () => {
      const waiting = await settlement().getJob(settleJobId(trade.id, 'releasing'));
      return waiting && (await waiting.getState()) === 'delayed' && waiting;
    });
    await retry.promote();
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    expect(await flagged(trade.id)).toBe(false);
    await expectClean();
  });
});

describe('Settlement run after the commit, off (HTTP)', () => {
  const { test, api, expectClean } = useTestApp(
    { ...quietRates, ...fastProviders, ...distantDeadlines, PAYPAL_MOCK_PAYOUT_DELAY_MS: '100', SETTLEMENT_AFTER_COMMIT: 'false' },
    { reference: '7.2400' },
  );

  it('settles through the settlement job', async () => {
    const { trade, traveler } = await fundedTrade(api);
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    await settlement.pause();
    try {
      expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token })).status).toBe(200);
      const job = await eventually(async () => settlement.getJob(settleJobId(trade.id, 'releasing')));
      expect(await job.getState()).toBe('waiting');
      expect(await tradeState(api, trade.id, traveler.token)).toBe('releasing');
    } finally {
      await settlement.resume();
    }
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    await expectClean();
  });
});

describe('Settlement run after the commit that outlasts its budget (HTTP)', () => {
  // A lease of 2 s leaves a run after the commit about 0.75 s; PayPal takes 3 s to capture. The payout is pending for
  // 3 s, so its webhook comes long after the first run gave its claim back.
  const { test, api, expectClean } = useTestApp(
    {
      ...quietRates,
      ...fastProviders,
      ...distantDeadlines,
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '3000',
      PROVIDER_POLL_EVERY_MS: '600000',
      PROVIDER_POLL_MAX_EVERY_MS: '600000',
      PROVIDER_WORK_SWEEP_EVERY_MS: '3600000',
      OUTBOX_AFTER_COMMIT_LEASE_MS: '2000',
    },
    { reference: '7.2400' },
  );

  it('queues its job due at the poll interval, not at once (the run still holds the claim), and the run completes the trade', async () => {
    const { trade, traveler } = await fundedTrade(api);
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', latencyMs: 3000, paths: ['/v2/payments/authorizations'] } });
    try {
      expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token })).status).toBe(200);
      // Queued while the capture still waits on PayPal: due at the poll interval, with no failure counted.
      const job = await eventually(async () => settlement.getJob(settleJobId(trade.id, 'releasing')));
      expect(await job.getState()).toBe('delayed');
      expect(job.opts.delay).toBeGreaterThan(500_000);
      expect(job.attemptsMade).toBe(0);
      expect(job.data).toEqual({ tradeId: trade.id });
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    // The run goes on past its budget: it captures, pays out, and the payout's webhook completes the trade.
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    await eventually(async () => (await settlement.getJob(settleJobId(trade.id, 'releasing'))) === undefined);
    await expectClean();
  });
});
