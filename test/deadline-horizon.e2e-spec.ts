import type { Client } from 'pg';
import { expireRequestJobId, fundingDeadlineJobId, payoutDeadlineJobId } from '../src/queues/job-ids';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { NEARING_START, sweepHorizonMs } from '../src/queues/sweep-horizon';
import { NearingDeadlinesRepository } from '../src/trades/nearing-deadlines.repository';
import { completedJobResult, eventually, TestApp } from './support/test-app';
import { fastProviders, quietRates } from './support/settings';
import { fundTrade, newTrade, tradeState } from './support/trades';
import { fixed, readyTraveler } from './support/market';
import type { Api } from './support/http';
import { useTestApp } from './support/use-test-app';

/** Once the outbox rows of the trade's `trade.created` event are published: whatever its opening wrote has reached Redis. */
async function openingPublished(db: Client, tradeId: string): Promise<void> {
  await eventually(
    async () =>
      (
        await db.query(
          `SELECT 1 FROM outbox WHERE published_at IS NOT NULL
              AND job_id = (SELECT 'fan-out-' || id FROM events WHERE trade_id = $1 AND type = 'trade.created')`,
          [tradeId],
        )
      ).rowCount === 1,
  );
}

/** How many outbox rows were ever written for the job id. */
async function outboxRows(db: Client, jobId: string): Promise<number> {
  return (await db.query(`SELECT count(*)::int AS n FROM outbox WHERE job_id = $1`, [jobId])).rows[0].n;
}

/** Runs one deadline sweep (or request expiry sweep) now and returns what it answered. */
async function sweepNow(test: TestApp, which: 'deadlines' | 'market' = 'deadlines'): Promise<{ queued: number; expired: number }> {
  const queue = test.app.get(QueueRegistry).get(QUEUES[which]);
  const sweep = await queue.add(which === 'deadlines' ? JOBS.deadlines.sweepDeadlines : JOBS.market.sweepExpiredRequests, {});
  return (await completedJobResult(queue, sweep.id!)) as { queued: number; expired: number };
}

/** A traveler's open request expiring in `expiresInMinutes` (the default, a day, if not given); its id. */
async function postRequest(api: Api, expiresInMinutes?: number): Promise<string> {
  const traveler = await readyTraveler(api);
  const posted = await api('POST', '/v1/requests', {
    token: traveler.token,
    body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'paypal', ...(expiresInMinutes ? { expiresInMinutes } : {}) },
  });
  expect(posted.status).toBe(201);
  return posted.body.id;
}

/**
 * The funding windows (30 minutes for PayPal, a day for a bank transfer), the payout window (30 minutes) and the
 * deadline sweep (a minute) at their defaults: every deadline lies past the horizon (150 s) when it is set, so no
 * job is queued for it then; the sweeper queues it once it nears.
 */
describe('deadline jobs at the default windows (HTTP)', () => {
  // The providers' delays and polls at their defaults too: nothing here is shortened but the reference rate's refresh.
  const { test, api, db } = useTestApp({ ...quietRates }, { reference: '7.2400' });
  const deadlines = () => test.app.get(QueueRegistry).get(QUEUES.deadlines);

  it('queues no deadline job when a trade opens or is funded, and the sweep queues each once it falls within the horizon', async () => {
    const paypal = await newTrade(api, { paymentMethod: 'paypal' });
    const bank = await newTrade(api, { paymentMethod: 'bank_transfer' });
    const funded = await fundTrade(api, await newTrade(api, { paymentMethod: 'paypal' }));
    for (const opened of [paypal, bank, funded]) await openingPublished(db, opened.trade.id);
    // Funded: the funding's own work (the hold, the timeline) is committed with the payout window; no job came with it.
    await eventually(async () => (await db.query(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`)).rows[0].n === 0);
    for (const opened of [paypal, bank, funded]) {
      expect(await outboxRows(db, fundingDeadlineJobId(opened.trade.id))).toBe(0);
      expect(await deadlines().getJob(fundingDeadlineJobId(opened.trade.id))).toBeUndefined();
    }
    expect(await outboxRows(db, payoutDeadlineJobId(funded.trade.id))).toBe(0);
    expect(await deadlines().getJob(payoutDeadlineJobId(funded.trade.id))).toBeUndefined();

    // Time passes: the bank trade's funding deadline and the funded trade's payout deadline are a minute away.
    await db.query(`UPDATE trades SET funding_by = now() + interval '1 minute' WHERE id = $1`, [bank.trade.id]);
    await db.query(`UPDATE trades SET payout_by = now() + interval '1 minute' WHERE id = $1`, [funded.trade.id]);
    expect((await sweepNow(test)).queued).toBeGreaterThanOrEqual(2);
    const fundingJob = (await deadlines().getJob(fundingDeadlineJobId(bank.trade.id)))!;
    const payoutJob = (await deadlines().getJob(payoutDeadlineJobId(funded.trade.id)))!;
    for (const job of [fundingJob, payoutJob]) {
      expect(await job.getState()).toBe('delayed');
      // What is left until the deadline by PostgreSQL's clock.
      expect(job.delay).toBeGreaterThan(0);
      expect(job.delay).toBeLessThanOrEqual(60000);
      expect(job.data).toEqual({ tradeId: job.id === fundingJob.id ? bank.trade.id : funded.trade.id });
    }
    expect(fundingJob.name).toBe(JOBS.deadlines.fundingDeadline);
    expect(payoutJob.name).toBe(JOBS.deadlines.payoutDeadline);
    // The PayPal trade's deadline is still past the horizon.
    expect(await deadlines().getJob(fundingDeadlineJobId(paypal.trade.id))).toBeUndefined();

    // A second sweep offers them again under the same ids: still one job each, the same one.
    await sweepNow(test);
    const delayed = await deadlines().getJobs(['delayed', 'waiting', 'active']);
    const ofTrades = delayed.filter((job) => [bank.trade.id, funded.trade.id, paypal.trade.id].includes(job.data.tradeId));
    expect(ofTrades.map((job) => job.id).sort()).toEqual([fundingJob.id, payoutJob.id].sort());
    expect((await deadlines().getJob(fundingJob.id!))!.timestamp).toBe(fundingJob.timestamp);
    // Nothing went through the outbox for them: the sweep reads the deadlines from PostgreSQL.
    expect(await outboxRows(db, fundingJob.id!)).toBe(0);
    expect(await tradeState(api, bank.trade.id, bank.traveler.token)).toBe('awaiting_funding');
  });

  it('reads nearing deadlines soonest first, page after page, to the microsecond', async () => {
    const opened = await Promise.all([0, 1, 2].map(() => newTrade(api, { paymentMethod: 'bank_transfer' })));
    const [later, soonest, between] = opened.map(({ trade }) => trade.id);
    // Two deadlines a microsecond apart: a cursor that lost precision would read one of them twice or never.
    await db.query(
      `UPDATE trades SET funding_by = date_trunc('second', now()) + interval '100 seconds' + CASE id
         WHEN $1::uuid THEN interval '30 seconds' WHEN $2::uuid THEN interval '0.000001 seconds' ELSE interval '0.000002 seconds' END
        WHERE id = ANY($3::uuid[])`,
      [later, soonest, [later, soonest, between]],
    );
    const nearing = test.app.get(NearingDeadlinesRepository);
    const horizonMs = sweepHorizonMs(60000);
    const seen: string[] = [];
    for (let after = NEARING_START, page = 0; page < 10; page += 1) {
      // One row a page: every step goes through the cursor. Other tests' nearing trades may come in between.
      const rows = await nearing.page('funding', horizonMs, after, 1);
      if (rows.length === 0) break;
      seen.push(...rows.map(({ tradeId }) => tradeId));
      after = rows[rows.length - 1].next;
    }
    expect(seen.filter((id) => [later, soonest, between].includes(id))).toEqual([soonest, between, later]);
  });

  it('queues no expiry job for a request expiring in a day, and the expiry sweep queues it once it falls within the horizon', async () => {
    const market = test.app.get(QueueRegistry).get(QUEUES.market);
    const later = await postRequest(api);
    const nearing = await postRequest(api);
    for (const id of [later, nearing]) {
      expect(await outboxRows(db, expireRequestJobId(id))).toBe(0);
      expect(await market.getJob(expireRequestJobId(id))).toBeUndefined();
    }
    await db.query(`UPDATE exchange_requests SET expires_at = now() + interval '1 minute' WHERE id = $1`, [nearing]);
    expect((await sweepNow(test, 'market')).queued).toBeGreaterThanOrEqual(1);
    const job = (await market.getJob(expireRequestJobId(nearing)))!;
    expect(await job.getState()).toBe('delayed');
    expect(job.delay).toBeGreaterThan(0);
    expect(job.delay).toBeLessThanOrEqual(60000);
    expect(job.data).toEqual({ requestId: nearing });
    expect(await market.getJob(expireRequestJobId(later))).toBeUndefined();
    await sweepNow(test, 'market');
    expect((await market.getJob(expireRequestJobId(nearing)))!.timestamp).toBe(job.timestamp);
  });
});

/**
 * A funding window and a request's expiry past the horizon with sweeps every half second (horizon 2 s): the trade
 * and the request start with no job, the sweep queues it as the deadline nears, and that job applies it at its
 * time. The sweeps are stopped once the job is queued, so nothing but the job can apply the deadline.
 */
describe('a deadline past the horizon, with a short sweep (HTTP)', () => {
  const { test, api, db } = useTestApp(
    {
      ...quietRates,
      ...fastProviders,
      DEADLINE_SWEEP_EVERY_MS: '500',
      FUNDING_WINDOW_BANK_MS: '6000',
      // Requests expire in minutes of a second here (at least 5): past the expiry sweep's horizon of 2 s.
      EXPIRY_MINUTE_MS: '1000',
      EXPIRY_SWEEP_EVERY_MS: '500',
      // The stopped sweep is not registered again within the test.
      PERIODIC_JOBS_CHECK_EVERY_MS: '3600000',
    },
    { reference: '7.2400' },
  );
  const deadlines = () => test.app.get(QueueRegistry).get(QUEUES.deadlines);

  it('expires the trade at its deadline by the job the sweeper queued as the deadline neared', async () => {
    const { traveler, trade } = await newTrade(api, { paymentMethod: 'bank_transfer' });
    const jobId = fundingDeadlineJobId(trade.id);
    await openingPublished(db, trade.id);
    expect(await outboxRows(db, jobId)).toBe(0);
    expect(await deadlines().getJob(jobId)).toBeUndefined();

    const job = await eventually(async () => (await deadlines().getJob(jobId)) ?? false, 10000);
    await deadlines().removeJobScheduler(JOBS.deadlines.sweepDeadlines);
    expect(await tradeState(api, trade.id, traveler.token)).toBe('awaiting_funding');
    // Queued within the horizon of the deadline, never before the trade opened.
    expect(job.delay).toBeLessThanOrEqual(2000);

    expect(await completedJobResult(deadlines(), jobId, 15000)).toEqual({ expired: true });
    expect(await tradeState(api, trade.id, traveler.token)).toBe('expired');
    const late = await db.query(
      `SELECT extract(epoch FROM (SELECT min(at) FROM trade_events WHERE trade_id = t.id AND to_state = 'expired') - t.funding_by) * 1000 AS ms
         FROM trades t WHERE t.id = $1`,
      [trade.id],
    );
    // Not early: the job was delayed until the deadline by PostgreSQL's clock.
    expect(Number(late.rows[0].ms)).toBeGreaterThanOrEqual(0);
    expect(await outboxRows(db, jobId)).toBe(0);
  });

  it('expires a request at its time by the job the expiry sweep queued as its expiry neared', async () => {
    const market = test.app.get(QueueRegistry).get(QUEUES.market);
    const id = await postRequest(api, 5);
    const jobId = expireRequestJobId(id);
    expect(await outboxRows(db, jobId)).toBe(0);
    expect(await market.getJob(jobId)).toBeUndefined();
    const job = await eventually(async () => (await market.getJob(jobId)) ?? false, 10000);
    // From here only the job can expire it.
    await market.removeJobScheduler(JOBS.market.sweepExpiredRequests);
    expect(job.delay).toBeLessThanOrEqual(2000);
    expect(await completedJobResult(market, jobId, 15000)).toEqual({ expired: true });
    expect((await db.query(`SELECT status FROM exchange_requests WHERE id = $1`, [id])).rows[0].status).toBe('expired');
    expect(await outboxRows(db, jobId)).toBe(0);
  });
});
