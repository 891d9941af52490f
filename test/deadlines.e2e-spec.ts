import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { TradeTransitionsService as TradesService } from '../src/trades/trade-transitions.service';
import { TestUser } from './support/factories';
import { completedJobResult, eventually } from './support/test-app';
import { quietRates, fastProviders } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { newTrade, tradeState } from './support/trades';
import { paypalPayoutItems } from './support/paypal';

/**
 * Deadlines as the service runs them by default: the sweeper left at its minute, so a deadline that its own job
 * does not apply at its time shows as a trade still waiting. Funding windows of bank trades and payout windows
 * are short here; PayPal's mock keeps its 30-day claim period.
 */
describe('deadlines (HTTP)', () => {
  const { test, api, db } = useTestApp(
    {
      ...quietRates,
      ...fastProviders,
      FUNDING_WINDOW_BANK_MS: '1500',
      PAYOUT_WINDOW_MS: '2000',
      // DEADLINE_SWEEP_EVERY_MS and PAYPAL_MOCK_UNCLAIMED_RETURN_MS are left at their defaults (a minute, 30 days).
    },
    { reference: '7.2400', checkBooks: true },
  );

  const state = (tradeId: string, token: string) => tradeState(api, tradeId, token);
  const deadlines = () => test.app.get(QueueRegistry).get(QUEUES.deadlines);

  async function openTrade(paymentMethod: 'paypal' | 'bank_transfer', payoutEmail?: string) {
    const { traveler, counterparty, trade } = await newTrade(api, { paymentMethod, handles: { payoutEmail } });
    return { traveler, counterparty, trade };
  }

  async function fundByPaypal(tradeId: string, traveler: TestUser) {
    const funding = await api('POST', `/v1/trades/${tradeId}/funding`, { token: traveler.token, body: {} });
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: 'traveler-paypal@example.com' } });
    await eventually(async () => (await state(tradeId, traveler.token)) === 'funded');
  }

  /** When the trade's timeline first shows it entering `toState`, and its deadline column: both by PostgreSQL's clock. */
  async function lateness(tradeId: string, toState: string, column: 'funding_by' | 'payout_by'): Promise<number> {
    const rows = await db.query(
      `SELECT extract(epoch FROM (SELECT min(at) FROM trade_events WHERE trade_id = t.id AND to_state = $2) - t.${column}) * 1000 AS late_ms
         FROM trades t WHERE t.id = $1`,
      [tradeId, toState],
    );
    return Number(rows.rows[0].late_ms);
  }

  /** A transaction of another process blocked on a row lock of this database. */
  const someoneWaitsOnALock = async () =>
    (
      await db.query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE NOT l.granted AND a.datname = current_database()`,
      )
    ).rows[0].n > 0;

  it("expires an unfunded trade when its funding window closes, by its own job, not the sweeper's next round", async () => {
    const { traveler, trade } = await openTrade('bank_transfer');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'expired', 5000);
    // Not early, and by the trade's own deadline job, not the sweeper's next round (a busy machine may make it late).
    expect(await lateness(trade.id, 'expired', 'funding_by')).toBeGreaterThanOrEqual(0);
    expect(await completedJobResult(deadlines(), `deadline-${trade.id}-funding`)).toEqual({ expired: true });
  });

  it('starts the last search when the payout window closes, by its own job: a trade with no RMB is refunded at once', async () => {
    const { traveler, trade } = await openTrade('paypal');
    await fundByPaypal(trade.id, traveler);
    await eventually(async () => ['refunding', 'refunded'].includes(await state(trade.id, traveler.token)), 6000);
    expect(await lateness(trade.id, 'refunding', 'payout_by')).toBeGreaterThanOrEqual(0);
    expect(await completedJobResult(deadlines(), `deadline-${trade.id}-payout`)).toEqual({ searching: true });
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 10000);
  });

  /**
   * Runs a trade's deadline job now, before its deadline: what a worker whose clock runs ahead of PostgreSQL's does.
   * The deadline is first moved 5 s out, so that the wake-up is early however slow the machine (the job reads the
   * deadline when it wakes).
   */
  async function wakeEarly(jobId: string, tradeId: string, column: 'funding_by' | 'payout_by') {
    await db.query(`UPDATE trades SET ${column} = now() + interval '5 seconds' WHERE id = $1`, [tradeId]);
    const job = await eventually(async () => {
      const found = await deadlines().getJob(jobId);
      return found && (await found.getState()) === 'delayed' ? found : undefined;
    });
    await job.promote();
    // It ran, found the deadline still ahead, and went back to sleep until it.
    await eventually(async () => (await (await deadlines().getJob(jobId))?.getState()) === 'delayed');
  }

  it('puts a funding deadline job that wakes early back to sleep until the deadline, and expires the trade then', async () => {
    const { traveler, trade } = await openTrade('bank_transfer');
    await wakeEarly(`deadline-${trade.id}-funding`, trade.id, 'funding_by');
    expect(await state(trade.id, traveler.token)).toBe('awaiting_funding');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'expired', 10000);
    // Not early, and by the trade's own deadline job, not the sweeper's next round (a busy machine may make it late).
    expect(await lateness(trade.id, 'expired', 'funding_by')).toBeGreaterThanOrEqual(0);
    expect(await completedJobResult(deadlines(), `deadline-${trade.id}-funding`)).toEqual({ expired: true });
  });

  it('puts a payout deadline job that wakes early back to sleep until the deadline, and starts the last search then', async () => {
    const { traveler, trade } = await openTrade('paypal');
    await fundByPaypal(trade.id, traveler);
    await wakeEarly(`deadline-${trade.id}-payout`, trade.id, 'payout_by');
    expect(await state(trade.id, traveler.token)).toBe('funded');
    await eventually(async () => ['refunding', 'refunded'].includes(await state(trade.id, traveler.token)), 10000);
    expect(await lateness(trade.id, 'refunding', 'payout_by')).toBeGreaterThanOrEqual(0);
    expect(await completedJobResult(deadlines(), `deadline-${trade.id}-payout`)).toEqual({ searching: true });
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 10000);
  });

  it('does not expire a trade whose funding window an outage extended while its deadline job was deciding', async () => {
    const { traveler, trade } = await openTrade('bank_transfer');
    // What a provider's recovery commits (ProviderHealth): the deadline pushed back, the row held until commit.
    const extension = new Client({ connectionString: test.databaseUrl });
    await extension.connect();
    try {
      await extension.query('BEGIN');
      await extension.query(`UPDATE trades SET funding_by = funding_by + interval '1 hour' WHERE id = $1`, [trade.id]);
      // The deadline job wakes at the old deadline, finds it passed, and waits for the trade's row.
      await eventually(someoneWaitsOnALock, 6000);
      await extension.query('COMMIT');
    } finally {
      await extension.end();
    }
    // It re-reads the deadline under the lock, leaves the trade alone, and sleeps until the new one.
    // (A job caught between its wake-up and its decision is delayed with no delay yet: wait for the decision.)
    await eventually(async () => {
      const found = await deadlines().getJob(`deadline-${trade.id}-funding`);
      return found && (await found.getState()) === 'delayed' && found.delay > 3500 * 1000;
    });
    expect(await state(trade.id, traveler.token)).toBe('awaiting_funding');
  });

  it('does not start the last search for a payout window an outage extended while its deadline job was deciding', async () => {
    const { traveler, trade } = await openTrade('paypal');
    const extension = new Client({ connectionString: test.databaseUrl });
    await extension.connect();
    try {
      await fundByPaypal(trade.id, traveler);
      await extension.query('BEGIN');
      await extension.query(`UPDATE trades SET payout_by = payout_by + interval '1 hour' WHERE id = $1`, [trade.id]);
      await eventually(someoneWaitsOnALock, 6000);
      await extension.query('COMMIT');
    } finally {
      await extension.end();
    }
    await eventually(async () => {
      const found = await deadlines().getJob(`deadline-${trade.id}-payout`);
      return found && (await found.getState()) === 'delayed' && found.delay > 3500 * 1000;
    });
    const searches = await test.app.get(QueueRegistry).get(QUEUES.verification).getJobs(['waiting', 'active', 'delayed', 'completed']);
    expect(searches.filter((j) => j.name === JOBS.verification.lastSearch && j.data.tradeId === trade.id)).toEqual([]);
    expect(await state(trade.id, traveler.token)).toBe('funded');
  });

  it('refuses a refund at the payout deadline when an extension commits between its read and its update', async () => {
    const { traveler, trade } = await openTrade('paypal');
    await fundByPaypal(trade.id, traveler);
    const service = test.app.get(TradesService);
    const extension = new Client({ connectionString: test.databaseUrl });
    await extension.connect();
    try {
      // The window has passed as far as anyone reads it; an extension is on its way, the row held.
      await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
      await extension.query('BEGIN');
      await extension.query(`UPDATE trades SET payout_by = now() + interval '1 hour' WHERE id = $1`, [trade.id]);
      const decided = test.app.get(DataSource).transaction((manager) => service.payoutWindowPassed(manager, trade.id));
      await eventually(someoneWaitsOnALock, 6000);
      await extension.query('COMMIT');
      expect(await decided).toBe(false);
    } finally {
      await extension.end();
    }
    expect(await state(trade.id, traveler.token)).toBe('funded');
  });

  it("queues PayPal's return of an unclaimed payout 30 days ahead, its default claim period, without overflowing anything", async () => {
    const { traveler, trade } = await openTrade('paypal', 'unclaimed@example.com');
    await fundByPaypal(trade.id, traveler);
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    // Unclaimed is paid as far as we can tell: the trade completes, and PayPal's mock holds the money for 30 days.
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    const item = (await paypalPayoutItems(api, `yb-${trade.id}-payout`))[0];
    expect(item.status).toBe('UNCLAIMED');
    const sandbox = test.app.get(QueueRegistry).get(QUEUES.sandboxWebhooks);
    const job = await eventually(async () => sandbox.getJob(`paypal-payout-return-${item.itemId}`));
    expect(await job.getState()).toBe('delayed');
    const thirtyDays = 30 * 24 * 60 * 60 * 1000;
    expect(job.delay).toBeGreaterThan(thirtyDays - 60000);
    expect(job.delay).toBeLessThanOrEqual(thirtyDays);
    expect(await sandbox.getJobs(['failed'])).toEqual([]);
    // Marked published once BullMQ has the job (by its writer, a few milliseconds after the add, or by the relay).
    const row = await eventually(async () =>
      (
        await db.query(`SELECT published_at IS NOT NULL AS published, attempts, last_error FROM outbox WHERE job_id = $1`, [
          `paypal-payout-return-${item.itemId}`,
        ])
      ).rows.find((found) => found.published),
    );
    expect(row).toEqual({ published: true, attempts: 0, last_error: null });
  });
});
