import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { SettlementRepository } from '../src/payments/settlement/settlement.repository';
import { honorCaptureJobId, settleJobId } from '../src/queues/job-ids';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { LedgerCheckService } from '../src/trades/ledger-check.service';
import { createOperator } from './support/factories';
import { fundAtPaypal, paypalTrade } from './support/paypal-trades';
import { tradeState } from './support/trades';
import { paypalOrder, paypalPayoutBatches } from './support/paypal';
import { completedJobResult, eventually } from './support/test-app';
import { cappedPolls, distantDeadlines, fastProviders, quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

const BASE_ENV = {
  ...quietRates,
  // Each suite sets the PayPal mock's payout delay for itself.
  ...fastProviders,
  ...cappedPolls,
  ...distantDeadlines,
  // No sweeper to the rescue: what these tests show, the settlement's own jobs do.
  PROVIDER_WORK_SWEEP_EVERY_MS: '3600000',
};

/**
 * Settlement under provider faults, through HTTP with real workers and the PayPal mock: answers lost, webhooks
 * lost, a provider that never finishes, and settlements started at once. Each case is one the service used to
 * get wrong (money lost track of, a trade stuck, a step run twice at once).
 */
describe('Settlement under provider faults (HTTP)', () => {
  const { test, api, db } = useTestApp(
    {
      ...BASE_ENV,
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '100',
      PAYPAL_MOCK_UNCLAIMED_RECEIVERS: 'unclaimed-receiver@example.com',
      PAYPAL_MOCK_UNCLAIMED_RETURN_MS: '1500',
      SETTLEMENT_WATCH_POLL_MAX_MS: '300',
    },
    { reference: '7.2400' },
  );

  afterEach(async () => {
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  });

  const counterpartyPayable = async (tradeId: string) =>
    (
      await db.query(`SELECT (credits_posted - debits_posted)::text AS owed FROM ledger_accounts WHERE id = $1`, [
        `counterparty_payable:${tradeId}`,
      ])
    ).rows[0].owed;
  /** The trade's payout batches as PayPal's API shows them. */
  const batchesOf = async (tradeId: string) =>
    (await paypalPayoutBatches(api))
      .filter((batch) => batch.senderBatchId === `yb-${tradeId}-payout`)
      .map(({ batchId }) => ({ id: batchId }));
  /** The same, read from the mock's table: while PayPal fails every payouts call, its API cannot show them. */
  const batchesAtMock = async (tradeId: string) =>
    (await db.query(`SELECT id FROM paypal_mock_payout_batches WHERE sender_batch_id = $1`, [`yb-${tradeId}-payout`])).rows;
  /** PayPal's replay of a request id expires now. */
  const forgetReplay = async (requestId: string) =>
    expect((await api('DELETE', `/sandbox/paypal/replays/${encodeURIComponent(requestId)}`)).status).toBe(200);

  it('books back a payout returned after completion even when every webhook is lost: the unclaimed item is watched until final', async () => {
    const { traveler, trade } = await paypalTrade(api, '1000.00', 'unclaimed-receiver@example.com'); // net $136.74
    await fundAtPaypal(api, trade, traveler);
    // From here on PayPal's webhooks never arrive: only polling can learn that the payout came back.
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', dropWebhooks: 1 } });
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    const watch = await db.query(
      `SELECT status, flag_after IS NOT NULL AS flags FROM settlement_steps WHERE trade_id = $1 AND step = 'watch_payout'`,
      [trade.id],
    );
    expect(watch.rows).toEqual([{ status: expect.stringMatching(/^(waiting|done)$/), flags: true }]);

    // PayPal returns the unclaimed item: the watch books it back, flags the trade, and tells the parties.
    await eventually(
      async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === true,
      15000,
    );
    expect(await tradeState(api, trade.id, traveler.token)).toBe('completed');
    expect(await counterpartyPayable(trade.id)).toBe('13674');
    const told = await db.query(`SELECT detail FROM trade_events WHERE trade_id = $1 AND type = 'provider_event'`, [trade.id]);
    expect(told.rows.map((r) => r.detail.payout)).toContain('RETURNED');
    expect((await db.query(`SELECT status FROM settlement_steps WHERE trade_id = $1 AND step = 'watch_payout'`, [trade.id])).rows).toEqual([
      { status: 'done' },
    ]);
  });

  it('finds a payout whose answer was lost and which PayPal no longer replays, by the batch its duplicate sender_batch_id links to', async () => {
    const { traveler, trade } = await paypalTrade(api, '1000.00');
    await fundAtPaypal(api, trade, traveler);
    // Every payout call does its work and then fails: the batch is made, its answer never arrives.
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1, paths: ['/v1/payments/payouts'] } });
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    await eventually(async () => (await batchesAtMock(trade.id)).length === 1);
    expect(await tradeState(api, trade.id, traveler.token)).toBe('releasing');
    // PayPal keeps a request id's replay for a while only; past it, the retry is refused as a duplicate sender_batch_id.
    await forgetReplay(`yb-${trade.id}-payout`);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });

    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    const batches = await batchesOf(trade.id);
    expect(batches).toHaveLength(1);
    const funding = await db.query(`SELECT payout_batch_id FROM trade_fundings WHERE trade_id = $1`, [trade.id]);
    expect(funding.rows[0].payout_batch_id).toBe(batches[0].id);
    expect(await counterpartyPayable(trade.id)).toBe('0');
  });

  /** Once the provider has done the work (`made`), its answer lost: PayPal's replay of `requestId` expires, and the faults clear. */
  async function loseAnswerAndReplay(made: () => Promise<boolean>, requestId: string) {
    await eventually(made, 15000);
    await forgetReplay(requestId);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
  }

  it('finds a capture whose answer was lost and which PayPal no longer replays, among its order’s captures', async () => {
    const { traveler, trade } = await paypalTrade(api, '1000.00');
    const orderId = await fundAtPaypal(api, trade, traveler);
    const captures = async () => (await paypalOrder(api, orderId)).captures.map(({ id }) => ({ id }));
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1, paths: ['/v2/payments/authorizations'] } });
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    await loseAnswerAndReplay(async () => (await captures()).length === 1, `yb-${trade.id}-capture`);
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    expect(await captures()).toHaveLength(1);
    const funding = await db.query(`SELECT capture_id FROM trade_fundings WHERE trade_id = $1`, [trade.id]);
    expect(funding.rows[0].capture_id).toBe((await captures())[0].id);
    const fees = await db.query(`SELECT count(*)::int AS n FROM ledger_transfers WHERE trade_id = $1 AND kind = 'provider_capture_fee'`, [
      trade.id,
    ]);
    expect(fees.rows[0].n).toBe(1);
  });

  it('refunds a split’s part once when the refund’s answer was lost and PayPal no longer replays it', async () => {
    const operator = await createOperator(test, api);
    const { traveler, trade } = await paypalTrade(api, '1000.00'); // $138.12
    const orderId = await fundAtPaypal(api, trade, traveler);
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Only part of the RMB arrived.' },
    });
    expect(opened.status).toBe(201);
    // The dispute captures the authorization into escrow.
    await eventually(
      async () => (await db.query(`SELECT capture_id FROM trade_fundings WHERE trade_id = $1`, [trade.id])).rows[0].capture_id,
    );
    const refunds = async () => (await paypalOrder(api, orderId)).refunds.map(({ amountCents }) => ({ amountCents }));
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1, paths: ['/v2/payments/captures'] } });
    const resolved = await api('POST', `/v1/admin/disputes/${opened.body.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '50.00', counterpartyUsd: '88.12', note: 'Part of the RMB arrived.' },
    });
    expect(resolved.status).toBe(200);
    // Refunding $50.00 again would still fit in what is left of the capture: only looking it up keeps it to one.
    await loseAnswerAndReplay(async () => (await refunds()).length === 1, `yb-${trade.id}-refund`);
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'settled_split', 15000);
    expect(await refunds()).toEqual([{ amountCents: '5000' }]);
  });

  it('runs one settlement of a trade at a time: an operator’s ten retries during a slow payout make one payout call', async () => {
    const operator = await createOperator(test, api);
    const { traveler, trade } = await paypalTrade(api, '1000.00');
    await fundAtPaypal(api, trade, traveler);
    const payoutPosts = () =>
      test
        .readLog()
        .split('\n')
        .filter((line) => line.includes('"method":"POST"') && line.includes('"url":"/sandbox/paypal/v1/payments/payouts"')).length;
    const before = payoutPosts();
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', latencyMs: 1500, paths: ['/v1/payments/payouts'] } });
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    const retries = await Promise.all(
      Array.from({ length: 10 }, () => api('POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: operator.token })),
    );
    expect(retries.map((r) => r.status)).toEqual(Array(10).fill(200));
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 30000);
    // Every job but the claimant found the trade claimed, or settled; PayPal saw one payout request.
    await eventually(async () => test.readLog().includes('"url":"/sandbox/paypal/v1/payments/payouts"') && payoutPosts() > before);
    expect(payoutPosts() - before).toBe(1);
    expect(await batchesOf(trade.id)).toHaveLength(1);
    const steps = await db.query(`SELECT step, attempt, status FROM settlement_steps WHERE trade_id = $1 ORDER BY step`, [trade.id]);
    expect(steps.rows).toEqual([
      { step: 'capture', attempt: 1, status: 'done' },
      { step: 'payout', attempt: 1, status: 'done' },
    ]);
    // Each run gives its claim up when it ends (the retries' later runs found the trade settled).
    await eventually(async () => {
      const claim = await db.query(`SELECT settlement_claim FROM trade_fundings WHERE trade_id = $1`, [trade.id]);
      return claim.rows[0].settlement_claim === null;
    });
  });
  it('takes a claim from a read only while the funding record is as read: a run that read before another run claimed and released, or ended the trade, writes nothing', async () => {
    const { traveler, trade } = await paypalTrade(api, '1000.00');
    await fundAtPaypal(api, trade, traveler);
    const journal = test.app.get(SettlementRepository);
    // Each run's claim token.
    const [another, stale, third, ending, fresh, racing] = Array.from({ length: 6 }, () => randomUUID());
    const read = (await journal.view(trade.id))!;
    expect(read).toMatchObject({ trade: { id: trade.id, state: 'funded' }, claimHeld: false });
    expect(read.funding?.authorizationId).toBeTruthy();
    const begin = (token: string, version: string | null) =>
      journal.begin(undefined, trade.id, token, 60000, version, 'capture', 1, `yb-${trade.id}-capture`, null);
    // Another run claims and gives the claim up: the claim is free again, as it was when read, but the record moved.
    expect(await journal.claim(trade.id, another, 60000)).toMatchObject({ tradeId: trade.id });
    expect((await journal.view(trade.id))!.claimHeld).toBe(true);
    await journal.release(trade.id, another);
    expect(await begin(stale, read.version)).toBeNull();
    // Another run ends the trade while a third holds the claim: the end writes the funding record all the same
    // (a run that read before it finds the record changed), and leaves the third run's claim alone.
    expect(await journal.claim(trade.id, third, 60000)).not.toBeNull();
    const whileHeld = (await journal.view(trade.id))!;
    await test.app.get(DataSource).transaction((manager) => journal.closeAtEnd(manager, trade.id, ending, null));
    const ended = (await journal.view(trade.id))!;
    expect(ended.claimHeld).toBe(true);
    expect(ended.version).not.toBe(whileHeld.version);
    await journal.release(trade.id, third);
    const afterEnd = (await journal.view(trade.id))!;
    expect(afterEnd.claimHeld).toBe(false);
    expect(await begin(stale, whileHeld.version)).toBeNull();
    // Nothing was journaled and no claim taken by the stale runs; a run from a fresh read begins its step.
    expect((await db.query(`SELECT count(*)::int AS n FROM settlement_steps WHERE trade_id = $1`, [trade.id])).rows[0].n).toBe(0);
    expect(
      (await db.query(`SELECT settlement_claim FROM trade_fundings WHERE trade_id = $1`, [trade.id])).rows[0].settlement_claim,
    ).toBeNull();
    const begun = await begin(fresh, afterEnd.version);
    expect(begun).toMatchObject({ step: 'capture', status: 'running', retried: false, funding: { tradeId: trade.id } });
    // While it holds the claim, a run from the same read finds the record moved, and one from a read after the
    // begin (or with no version) finds the claim taken.
    expect(await begin(racing, afterEnd.version)).toBeNull();
    const whileBegun = (await journal.view(trade.id))!;
    expect(whileBegun.claimHeld).toBe(true);
    expect(await begin(racing, whileBegun.version)).toBeNull();
    expect(await begin(racing, null)).toBeNull();
    // The trade is left as it was: no claim, no step begun for a capture never made.
    await journal.release(trade.id, fresh);
    await db.query(`DELETE FROM settlement_steps WHERE trade_id = $1`, [trade.id]);
  });
});

describe('Settlement waiting on a provider that never finishes (HTTP)', () => {
  // Payout items stay PENDING for an hour; a step may wait 1.5 s before operators are told.
  const { test, api, db } = useTestApp(
    { ...BASE_ENV, PAYPAL_MOCK_PAYOUT_DELAY_MS: '3600000', SETTLEMENT_STEP_FLAG_AFTER_MS: '1500' },
    { reference: '7.2400' },
  );

  it('flags a trade whose payout stays pending past the step’s bound, and lists it for operators', async () => {
    const operator = await createOperator(test, api);
    const { traveler, trade } = await paypalTrade(api, '100.00');
    await fundAtPaypal(api, trade, traveler);
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    await eventually(
      async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === true,
      15000,
    );
    expect(await tradeState(api, trade.id, traveler.token)).toBe('releasing');
    // The parties are told once, when the flag turned on.
    const told = await db.query(`SELECT data FROM events WHERE trade_id = $1 AND type = 'trade.settlement_failing'`, [trade.id]);
    expect(told.rows).toEqual([{ data: { trade: expect.objectContaining({ id: trade.id, settlementFailing: true }) } }]);
    const flagged = await api('GET', '/v1/admin/trades?settlementFailing=true', { token: operator.token });
    expect(flagged.body.data.map((t: { id: string }) => t.id)).toContain(trade.id);
    const metrics = await api('GET', '/metrics');
    expect(Number(/^trades_settlement_failing (\d+)$/m.exec(metrics.text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  });
});

describe('Settlement’s poll and the payout’s webhook (HTTP)', () => {
  // The settlement polls a pending payout every 2 s; the payout finishes in 100 ms and its webhook follows.
  // An honour period of two hours: its capture (at 96 minutes) is within the sweep's horizon, so queued at funding.
  const { test, api, db } = useTestApp(
    { ...BASE_ENV, PROVIDER_POLL_EVERY_MS: '2000', PAYPAL_MOCK_PAYOUT_DELAY_MS: '100', PAYPAL_HONOR_PERIOD_MS: '7200000' },
    { reference: '7.2400' },
  );

  afterEach(async () => {
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  });

  const settlementQueue = () => test.app.get(QueueRegistry).get(QUEUES.settlement);
  /** The trade's settlement jobs still waiting to run (their retry or their time not come). */
  const waitingJobs = async (tradeId: string) =>
    (await settlementQueue().getJobs(['delayed', 'waiting', 'prioritized']))
      .filter((job) => (job.data as { tradeId?: string }).tradeId === tradeId)
      .map((job) => job.id);

  it('leaves no settlement job to run after the payout’s webhook completed the trade: the poll and the honour capture are removed', async () => {
    const { traveler, trade } = await paypalTrade(api, '100.00');
    await fundAtPaypal(api, trade, traveler);
    expect(await waitingJobs(trade.id)).toEqual([honorCaptureJobId(trade.id)]);
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    await eventually(async () => (await waitingJobs(trade.id)).length === 0, 5000);
    // Past the poll's interval: the releasing job never ran again to find the trade completed.
    await sleep(2500);
    const releasing = await settlementQueue().getJob(settleJobId(trade.id, 'releasing'));
    if (releasing) expect(releasing.returnvalue).toEqual({ outcome: 'completed' });
    // The journal ends with each step done under what PayPal called it: the capture's finish committed with its
    // record, the payout's with the completion, neither closed as superseded.
    const funding = await db.query(`SELECT capture_id, payout_batch_id FROM trade_fundings WHERE trade_id = $1`, [trade.id]);
    const steps = await db.query(
      `SELECT step, status, provider_ref, last_error, finished_at IS NOT NULL AS finished FROM settlement_steps WHERE trade_id = $1 ORDER BY started_at`,
      [trade.id],
    );
    expect(steps.rows).toEqual([
      { step: 'capture', status: 'done', provider_ref: funding.rows[0].capture_id, last_error: null, finished: true },
      { step: 'payout', status: 'done', provider_ref: funding.rows[0].payout_batch_id, last_error: null, finished: true },
    ]);
    // The payout was begun by the transaction that recorded the capture: one transaction's clock for both.
    const together = await db.query(
      `SELECT (SELECT finished_at FROM settlement_steps WHERE trade_id = $1 AND step = 'capture')
            = (SELECT started_at FROM settlement_steps WHERE trade_id = $1 AND step = 'payout') AS together`,
      [trade.id],
    );
    expect(together.rows[0].together).toBe(true);
  });

  it('completes the trade by its poll when PayPal’s webhooks never arrive', async () => {
    const { traveler, trade } = await paypalTrade(api, '100.00');
    await fundAtPaypal(api, trade, traveler);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', dropWebhooks: 1 } });
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    expect(await completedJobResult(settlementQueue(), settleJobId(trade.id, 'releasing'), 15000)).toEqual({ outcome: 'completed' });
    expect(await tradeState(api, trade.id, traveler.token)).toBe('completed');
    expect(await waitingJobs(trade.id)).toEqual([]);
  });
});

describe('Settlement whose ending is refused after PayPal paid (HTTP)', () => {
  // Payout items are paid at once: a payout's replayed answer is final, and the next statement is the trade's end.
  const { test, api, db } = useTestApp({ ...BASE_ENV, PAYPAL_MOCK_PAYOUT_DELAY_MS: '0' }, { reference: '7.2400' });

  it('keeps the payout’s ids when the transaction that ends the trade fails, and completes with the one payout once it can', async () => {
    const { traveler, trade } = await paypalTrade(api, '100.00');
    await fundAtPaypal(api, trade, traveler);
    // The database refuses this trade's completion (a stand-in for a timeout or a kill at that statement).
    await db.query(
      `CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'completion refused for the test'; END $$`,
    );
    await db.query(
      `CREATE TRIGGER refuse_completion BEFORE UPDATE ON trades FOR EACH ROW
         WHEN (NEW.id = '${trade.id}' AND NEW.state = 'completed') EXECUTE FUNCTION refuse_completion()`,
    );
    try {
      // The payout is made and its answer lost: the step's stall learns no ids, and the retry's replay finds it paid.
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1, paths: ['/v1/payments/payouts'] } });
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      const batches = async () =>
        (await db.query(`SELECT id FROM paypal_mock_payout_batches WHERE sender_batch_id = $1`, [`yb-${trade.id}-payout`])).rows;
      await eventually(async () => (await batches()).length === 1, 15000);
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
      // Paid at PayPal, not completed here: the batch and its item are known all the same, for webhooks and operators.
      await eventually(async () => {
        const funding = await db.query(`SELECT payout_batch_id, payout_item_id FROM trade_fundings WHERE trade_id = $1`, [trade.id]);
        return funding.rows[0].payout_batch_id === (await batches())[0].id && funding.rows[0].payout_item_id !== null;
      }, 15000);
      expect(await tradeState(api, trade.id, traveler.token)).toBe('releasing');
    } finally {
      await db.query(`DROP TRIGGER refuse_completion ON trades`);
      await db.query(`DROP FUNCTION refuse_completion()`);
    }
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);
    expect(
      (await db.query(`SELECT count(*)::int AS n FROM paypal_mock_payout_batches WHERE sender_batch_id = $1`, [`yb-${trade.id}-payout`]))
        .rows[0].n,
    ).toBe(1);
    expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  });
});
