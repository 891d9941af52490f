import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PaypalMockIdentity } from '../src/sandbox/paypal/paypal-mock.identity';
import { ProviderWorkSweeper } from '../src/payments/funding/provider-work.sweeper';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { completedJobResult, eventually } from './support/test-app';
import { paypalTrade } from './support/paypal-trades';
import { postSignedPaypalWebhook } from './support/paypal';
import { settling } from './support/settings';
import { tradeState } from './support/trades';
import { useTestApp } from './support/use-test-app';

/**
 * PayPal's webhooks and the funding checks they queue: one check for the webhooks that arrive before it starts, a
 * check that looks again for those that arrive while it runs, none for an event no check could act on; the poll
 * is ten minutes away here, so a trade that funds did so by a webhook's check.
 */
describe('PayPal webhooks: one funding check per burst (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    // The checks' jobs, held in their paused queue here: the same check run after the commit is its own file's.
    { ...settling, PROVIDER_POLL_EVERY_MS: '600000', PROVIDER_POLL_MAX_EVERY_MS: '600000', PROVIDER_CHECKS_AFTER_COMMIT: 'false' },
    { reference: '7.2400' },
  );

  const funding = () => test.app.get(QueueRegistry).get(QUEUES.funding);
  const setFaults = (settings: Record<string, unknown>) => api('PUT', '/sandbox/faults', { body: { provider: 'paypal', ...settings } });

  afterEach(async () => {
    await funding().resume();
    await setFaults({});
  });

  /** A trade awaiting funding with its PayPal order made; the mock's own webhooks dropped, so only the test's arrive. */
  async function orderedTrade() {
    await setFaults({ dropWebhooks: 1 });
    const { traveler, trade } = await paypalTrade(api, '100.00');
    const order = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(order.status).toBe(201);
    return { traveler, trade, orderId: order.body.orderId as string };
  }

  /** Delivers a PayPal event signed as the mock signs its own; answers the HTTP response. */
  async function deliver(event: { id: string; event_type: string; resource: Record<string, unknown> }) {
    const identity = await test.app.get(PaypalMockIdentity).get();
    return postSignedPaypalWebhook(api, test.baseUrl, identity.privateKey, JSON.stringify(event));
  }

  const approval = (orderId: string) => ({
    id: `WH-APPROVED-${randomUUID()}`,
    event_type: 'CHECKOUT.ORDER.APPROVED',
    resource: { id: orderId, status: 'APPROVED' },
  });
  const authorization = (orderId: string, type = 'PAYMENT.AUTHORIZATION.CREATED') => ({
    id: `WH-AUTH-${randomUUID()}`,
    event_type: type,
    resource: { id: `AUTH-${randomUUID()}`, supplementary_data: { related_ids: { order_id: orderId } } },
  });

  /** The check-funding jobs the trade's webhooks queued (its poll apart). */
  const webhookChecks = async (tradeId: string): Promise<string[]> =>
    (
      await db.query(
        `SELECT job_id FROM outbox WHERE job_name = 'check-funding' AND payload->>'tradeId' = $1 AND job_id <> $2 ORDER BY id`,
        [tradeId, `check-funding-${tradeId}-poll`],
      )
    ).rows.map((row: { job_id: string }) => row.job_id);

  const pendingMark = async (tradeId: string) =>
    (await db.query(`SELECT check_requests::int AS requests, check_pending_job AS job FROM trade_fundings WHERE trade_id = $1`, [tradeId]))
      .rows[0];

  it('queues one check for a burst of webhooks delivered at once, and the trade funds', async () => {
    const { traveler, trade, orderId } = await orderedTrade();
    await api('POST', `/sandbox/paypal/orders/${orderId}/approve`, {});
    // No check starts during the burst: the funding queue holds its jobs until it resumes.
    await funding().pause();
    const events = Array.from({ length: 8 }, () => approval(orderId));
    const answers = await Promise.all(events.map((event) => deliver(event)));
    expect(answers.map((a) => [a.status, a.body.duplicate])).toEqual(events.map(() => [200, false]));
    const stored = await db.query(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = ANY($1)`, [events.map((e) => e.id)]);
    expect(stored.rows[0].n).toBe(8);
    const checks = await webhookChecks(trade.id);
    expect(checks).toHaveLength(1);
    expect(await pendingMark(trade.id)).toEqual({ requests: 8, job: checks[0] });

    await funding().resume();
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    expect(await completedJobResult(funding(), checks[0])).toEqual({ outcome: 'funded' });
    expect(await pendingMark(trade.id)).toEqual({ requests: 8, job: null });
    await expectClean();
  });

  it('takes one webhook delivered many times at once as one event: one answer not a duplicate, one count, one check', async () => {
    const { traveler, trade, orderId } = await orderedTrade();
    await api('POST', `/sandbox/paypal/orders/${orderId}/approve`, {});
    await funding().pause();
    const event = approval(orderId);
    const answers = await Promise.all(Array.from({ length: 6 }, () => deliver(event)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(answers.map((a) => a.body.duplicate).sort()).toEqual([false, true, true, true, true, true]);
    const stored = await db.query(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = $1`, [event.id]);
    expect(stored.rows[0].n).toBe(1);
    const check = `check-funding-${trade.id}-${event.id}`;
    expect(await webhookChecks(trade.id)).toEqual([check]);
    expect(await pendingMark(trade.id)).toEqual({ requests: 1, job: check });

    await funding().resume();
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    expect(await completedJobResult(funding(), check)).toEqual({ outcome: 'funded' });
    await expectClean();
  });

  it('stores an event about an order no trade made, with no job and no mark, and takes its replay as a duplicate', async () => {
    await orderedTrade();
    const marks = async () => (await db.query(`SELECT coalesce(sum(check_requests), 0)::text AS n FROM trade_fundings`)).rows[0].n;
    const marksBefore = await marks();
    const event = authorization(`UNKNOWN-${randomUUID()}`);
    expect((await deliver(event)).body).toEqual({ received: true, duplicate: false });
    expect((await deliver(event)).body).toEqual({ received: true, duplicate: true });
    const stored = await db.query(`SELECT event_type FROM provider_events WHERE provider = 'paypal' AND event_id = $1`, [event.id]);
    expect(stored.rows).toEqual([{ event_type: event.event_type }]);
    expect((await db.query(`SELECT count(*)::int AS n FROM outbox WHERE job_id LIKE $1`, [`%${event.id}%`])).rows[0].n).toBe(0);
    // No trade's funding record was marked.
    expect(await marks()).toBe(marksBefore);
  });

  it('refuses an event id no job id can carry with a 400, storing nothing', async () => {
    const { trade, orderId } = await orderedTrade();
    for (const id of [`WH:${randomUUID()}`, `WH-${'x'.repeat(130)}`]) {
      const answer = await deliver({ ...approval(orderId), id });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'validation_failed' });
      expect((await db.query(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = $1`, [id])).rows[0].n).toBe(0);
    }
    expect(await pendingMark(trade.id)).toEqual({ requests: 0, job: null });
  });

  it('looks again for a webhook that arrived while its check ran: funded without a second job or the poll', async () => {
    const { traveler, trade, orderId } = await orderedTrade();
    // The webhook's certificate fetched once (an event about no order of ours), so a delivery asks the mock nothing.
    expect((await deliver(approval(`UNKNOWN-${randomUUID()}`))).status).toBe(200);
    /** Waits until a backend waits for a row lock in a statement that starts with `sql`. */
    const blockedAt = (sql: string) =>
      eventually(
        async () =>
          (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`${sql}%`]))
            .rows[0].n === 1,
      );
    // PayPal's mock counts each call on its faults row first: two sessions holding that row in turn hold the check's
    // calls to PayPal on their way in, one after the other.
    const lockFaults = `SELECT 1 FROM sandbox_faults WHERE provider = 'paypal' FOR UPDATE`;
    const first = new Client({ connectionString: test.databaseUrl });
    const second = new Client({ connectionString: test.databaseUrl });
    await first.connect();
    await second.connect();
    let check: string;
    try {
      await first.query('BEGIN');
      await first.query(lockFaults);
      expect((await deliver(approval(orderId))).status).toBe(200);
      [check] = await webhookChecks(trade.id);
      // The check has read the funding row and is asking PayPal, held on the mock's way in.
      await blockedAt('UPDATE sandbox_faults SET calls');
      expect((await deliver(approval(orderId))).body).toEqual({ received: true, duplicate: false });
      expect(await webhookChecks(trade.id)).toEqual([check]);
      expect(await pendingMark(trade.id)).toEqual({ requests: 2, job: check });

      // The second session queues behind the check's call: PayPal answers that call "created" (not approved yet),
      // and the check's next call waits for the second session.
      await second.query('BEGIN');
      const secondHolds = second.query(lockFaults);
      await blockedAt('SELECT 1 FROM sandbox_faults');
      await first.query('COMMIT');
      await secondHolds;
      await blockedAt('UPDATE sandbox_faults SET calls');
      expect((await api('POST', `/sandbox/paypal/orders/${orderId}/approve`, {})).status).toBe(200);
      await second.query('COMMIT');
    } finally {
      await first.end();
      await second.end();
    }
    // The check saw a webhook counted while it ran and looked again: the approval is found, with no other job.
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    expect(await completedJobResult(funding(), check)).toEqual({ outcome: 'funded' });
    expect(await webhookChecks(trade.id)).toEqual([check]);
    // The poll never ran: the check that funded the trade removed it.
    expect(await funding().getJob(`check-funding-${trade.id}-poll`)).toBeUndefined();
    expect(await pendingMark(trade.id)).toEqual({ requests: 2, job: null });
    await expectClean();
  });

  it('queues a check for a webhook that comes after the last one started, while that one waits to try again', async () => {
    const { traveler, trade, orderId } = await orderedTrade();
    const first = approval(orderId);
    await deliver(first);
    const [check] = await webhookChecks(trade.id);
    // Asked before the buyer approved: "not yet", tried again in ten minutes. It is still a pending job for BullMQ.
    await eventually(async () => {
      const job = await funding().getJob(check);
      return job !== undefined && job.attemptsMade >= 1 && (await job.getState()) === 'delayed';
    });
    expect(await pendingMark(trade.id)).toEqual({ requests: 1, job: null });

    await api('POST', `/sandbox/paypal/orders/${orderId}/approve`, {});
    const second = approval(orderId);
    expect((await deliver(second)).body).toEqual({ received: true, duplicate: false });
    const checks = await webhookChecks(trade.id);
    expect(checks).toEqual([check, `check-funding-${trade.id}-${second.id}`]);
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    expect(await completedJobResult(funding(), checks[1])).toEqual({ outcome: 'funded' });
    expect(await (await funding().getJob(check))?.getState()).toBe('delayed');
    await expectClean();
  });

  it('stores an event no check could act on without queuing one, and takes its replay as a duplicate', async () => {
    const { traveler, trade, orderId } = await orderedTrade();
    await api('POST', `/sandbox/paypal/orders/${orderId}/approve`, {});
    await deliver(approval(orderId));
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    const funded = await pendingMark(trade.id);

    // The authorization the platform's own check made, and a late approval: the trade is funded, nothing to check.
    for (const event of [authorization(orderId), approval(orderId)]) {
      expect((await deliver(event)).body).toEqual({ received: true, duplicate: false });
      expect((await deliver(event)).body).toEqual({ received: true, duplicate: true });
      const stored = await db.query(`SELECT event_type FROM provider_events WHERE provider = 'paypal' AND event_id = $1`, [event.id]);
      expect(stored.rows).toEqual([{ event_type: event.event_type }]);
      const jobs = await db.query(`SELECT count(*)::int AS n FROM outbox WHERE job_id LIKE $1`, [`%${event.id}%`]);
      expect(jobs.rows[0].n).toBe(0);
    }
    expect(await pendingMark(trade.id)).toEqual(funded);
    expect(await tradeState(api, trade.id, traveler.token)).toBe('funded');
  });

  it('checks a cancelled trade only for an event that may bring an authorization to void', async () => {
    const { traveler, trade, orderId } = await orderedTrade();
    const cancelled = await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token, body: {} });
    expect(cancelled.body.state).toBe('cancelled');
    const approved = approval(orderId);
    const voided = authorization(orderId, 'PAYMENT.AUTHORIZATION.VOIDED');
    const created = authorization(orderId);
    for (const event of [approved, voided, created]) expect((await deliver(event)).status).toBe(200);
    expect(await webhookChecks(trade.id)).toEqual([`check-funding-${trade.id}-${created.id}`]);
    // PayPal shows no authorization on the order: the check finds nothing to void.
    expect(await completedJobResult(funding(), `check-funding-${trade.id}-${created.id}`)).toEqual({ outcome: 'nothing' });
  });

  it('queues again a pending check Redis lost: the webhooks that waited on it still fund the trade', async () => {
    const { traveler, trade, orderId } = await orderedTrade();
    await api('POST', `/sandbox/paypal/orders/${orderId}/approve`, {});
    await funding().pause();
    await deliver(approval(orderId));
    const [check] = await webhookChecks(trade.id);
    // Published, then lost from Redis before any worker took it.
    await (await eventually(async () => funding().getJob(check)))!.remove();
    expect((await deliver(approval(orderId))).body.duplicate).toBe(false);
    expect(await webhookChecks(trade.id)).toEqual([check]);
    // Past a sweep period, the sweep finds the pending check's job gone and queues its spare.
    await db.query(`UPDATE trade_fundings SET check_pending_since = now() - interval '1 hour' WHERE trade_id = $1`, [trade.id]);
    expect((await test.app.get(ProviderWorkSweeper).sweep()).requeued).toBeGreaterThanOrEqual(1);
    await funding().resume();
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded');
    expect(await completedJobResult(funding(), `${check}-sweep`)).toEqual({ outcome: 'funded' });
    expect(await pendingMark(trade.id)).toEqual({ requests: 2, job: null });
    await expectClean();
  });
});
