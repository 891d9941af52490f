import { honorCaptureJobId, settleJobId } from '../src/queues/job-ids';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { ProviderWorkSweeper } from '../src/payments/funding/provider-work.sweeper';
import { bankTransfer } from './support/bank';
import { approvePaypal, fundAtPaypal, openPaypalTrade, paypalParties, paypalTrade } from './support/paypal-trades';
import { distantDeadlines, quietRates } from './support/settings';
import { newTrade, tradeState } from './support/trades';
import { eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';

/**
 * The settling suites shorten the mocks' delays (`fastProviders`, `fastBank`); this one leaves the bank's settlement
 * delay, PayPal's payout delay, the webhook back-offs and the providers' poll at their defaults, so what those real
 * values do is seen once: a bank-funded trade from the transfer sent to the USD paid out, then a reconciliation run at
its default search delay.
 */
describe('a whole trade with the providers’ default delays', () => {
  const suite = useTestApp({ ...quietRates, ...distantDeadlines }, { reference: '7.2400', operator: true });

  it('funds by bank transfer once the bank settles it, and completes with the payout settled', async () => {
    const { api, operator } = suite;
    const opened = await newTrade(api, { paymentMethod: 'bank_transfer' });
    const { traveler, counterparty, trade, handles } = opened;
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(funding.status).toBe(201);
    const sent = await api('POST', '/sandbox/bank/incoming', {
      body: { reference: funding.body.reference, amountUsd: funding.body.amountUsd },
    });
    expect(sent.status).toBe(202);
    // The default delay is real: the transfer is pending, and the trade unfunded, until the bank settles it.
    expect((await bankTransfer(api, sent.body.transferId)).status).toBe('pending');
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state).toBe('awaiting_funding');
    await eventually(async () => (await bankTransfer(api, sent.body.transferId)).status === 'settled', 20000);
    await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state === 'funded', 20000);

    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: handles.travelerWechat, balanceCny: '0.00' } });
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: handles.counterpartyWechat, balanceCny: '1000.00' } });
    const transfer = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: handles.counterpartyWechat, toWechatId: handles.travelerWechat, amountCny: '1000.00' },
    });
    expect(transfer.status).toBe(201);
    const reported = await api('POST', `/v1/trades/${trade.id}/payout`, {
      token: counterparty.token,
      body: { wechatTransferId: transfer.body.transferId },
    });
    expect(reported.body.state).toBe('payout_sent');
    await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state === 'completed', 30000);
    // Verified by the process that took the report, at the default lease and poll: no verification job was queued.
    expect(await suite.test.app.get(QueueRegistry).get(QUEUES.verification).getJob(`verify-${trade.id}`)).toBeUndefined();

    // PayPal settles the payout item after its default delay; the payout step is then done and nothing is flagged.
    await eventually(async () => {
      const steps = await suite.db.query(`SELECT status FROM settlement_steps WHERE trade_id = $1 AND step = 'payout'`, [trade.id]);
      return steps.rows.length > 0 && steps.rows.every((row) => row.status === 'done');
    }, 30000);
    const view = await api('GET', `/v1/trades/${trade.id}`, { token: operator.token });
    expect(view.body).toMatchObject({ state: 'completed', settlementFailing: false, amountUsd: '138.12', feeUsd: '1.38' });
    expect((await api('GET', '/v1/admin/ledger/check', { token: operator.token })).body).toEqual({ ok: true, violations: [] });

    // Reconciliation at its default search delay (three hours: the reconciliation suites set it to 0): PayPal's
    // payouts are searched only up to three hours ago, so the payout just made is left to a later run, and the run
    // reports nothing.
    const before = (await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body.runId ?? 0;
    expect((await api('POST', '/v1/admin/reconciliation/run', { token: operator.token })).status).toBe(202);
    const run = await eventually(async () => {
      const latest = await api('GET', '/v1/admin/reconciliation', { token: operator.token });
      return latest.body.runId > before && latest.body;
    }, 20000);
    expect(run).toMatchObject({ ok: true, mismatches: [] });
    const searched = await suite.db.query(
      `SELECT payouts_searched_until < now() - interval '3 hours' AS behind,
              payouts_searched_until > now() - interval '3 hours 5 minutes' AS recent
         FROM reconciliation_runs WHERE id = $1`,
      [run.runId],
    );
    expect(searched.rows).toEqual([{ behind: true, recent: true }]);
  });
});

/**
 * PayPal's honour period (three days), the payout window (thirty minutes), the payout's delay and the providers' poll
 * at their defaults: the honour-period, deadline and settling suites shorten them (`fastProviders`, a payout paid at
 * once), so what the real values schedule and settle is checked here once.
 */
describe('a PayPal trade funded with the default honour period and payout window', () => {
  const suite = useTestApp({ ...quietRates }, { reference: '7.2400' });

  it('schedules the capture at four fifths of three days, queued as it nears, and the payout deadline thirty minutes out', async () => {
    const { api, test, db } = suite;
    const parties = await paypalParties(api);
    const tradeId = await openPaypalTrade(api, parties);
    await approvePaypal(api, tradeId, parties.traveler);
    const funded = await eventually(async () => {
      const view = await api('GET', `/v1/trades/${tradeId}`, { token: parties.traveler.token });
      return view.body.state === 'funded' && view.body;
    }, 20000);
    // Funded by the webhook's check run after its commit (no check job queued); the poll, ten seconds out at the
    // default, was queued as its job and is removed with the funding.
    const funding = test.app.get(QueueRegistry).get(QUEUES.funding);
    const checks = await funding.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    const poll = `check-funding-${tradeId}-poll`;
    const ofTrade = checks.filter((job) => (job.data as { tradeId?: string }).tradeId === tradeId && job.id !== poll);
    expect(ofTrade.map((job) => job.id)).toEqual([]);
    await eventually(async () => (await funding.getJob(poll)) === undefined);
    const pollRow = await suite.db.query(`SELECT run_at > created_at + interval '9 seconds' AS delayed FROM outbox WHERE job_id = $1`, [
      poll,
    ]);
    expect(pollRow.rows).toEqual([{ delayed: true }]);
    const payoutInMs = Date.parse(funded.deadlines.payoutBy) - Date.now();
    expect(payoutInMs).toBeGreaterThan(30 * 60 * 1000 - 60000);
    expect(payoutInMs).toBeLessThanOrEqual(30 * 60 * 1000);

    // The capture, 4/5 of 259,200,000 ms out, is days past the provider-work sweep's horizon (150 s at its default
    // minute): no job at funding. Moved to two minutes before it falls due, the trade's capture is queued by the sweep.
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    expect(await settlement.getJob(honorCaptureJobId(tradeId))).toBeUndefined();
    expect((await db.query(`SELECT 1 FROM outbox WHERE job_id = $1`, [honorCaptureJobId(tradeId)])).rowCount).toBe(0);
    await test.app.get(ProviderWorkSweeper).sweep();
    // The sweep's rows commit before it returns: still none for a capture days away.
    expect((await db.query(`SELECT 1 FROM outbox WHERE job_id = $1`, [honorCaptureJobId(tradeId)])).rowCount).toBe(0);
    await db.query(`UPDATE trades SET funded_at = now() - interval '207360 seconds' + interval '120 seconds' WHERE id = $1`, [tradeId]);
    await test.app.get(ProviderWorkSweeper).sweep();
    const capture = await eventually(async () => (await settlement.getJob(honorCaptureJobId(tradeId))) ?? false, 10000);
    expect(await capture.getState()).toBe('delayed');
    expect(capture.opts.delay).toBeGreaterThan(110_000);
    expect(capture.opts.delay).toBeLessThanOrEqual(120_000);
    // Released before it falls due, at the default payout delay: the run that completes the trade removes the capture.
    await api('POST', `/v1/trades/${tradeId}/confirm-receipt`, { token: parties.traveler.token });
    await eventually(async () => (await tradeState(api, tradeId, parties.traveler.token)) === 'completed', 20000);
    await eventually(async () => (await settlement.getJob(honorCaptureJobId(tradeId))) === undefined);
  });

  it('gives a settlement that outlasts its budget at the default lease its job due at the default poll, and the run completes the trade', async () => {
    const { api, test } = suite;
    const { traveler, trade } = await paypalTrade(api, '100.00');
    await fundAtPaypal(api, trade, traveler, 20000);
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    // The default lease (10 s) leaves a run after the commit about 4 s; PayPal takes 4.5 s to capture.
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', latencyMs: 4500, paths: ['/v2/payments/authorizations'] } });
    try {
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      const job = await eventually(async () => settlement.getJob(settleJobId(trade.id, 'releasing')));
      expect(await job.getState()).toBe('delayed');
      // Due at the default poll (ten seconds), not at once: the run still holds the trade's claim.
      expect(job.opts.delay).toBeGreaterThan(9000);
      expect(job.opts.delay).toBeLessThanOrEqual(10000);
      expect(job.data).toEqual({ tradeId: trade.id });
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    // The run goes on: it captures and pays out, and the payout's webhook (two seconds at the default) completes the
    // trade before that job is due; the completing run removes it.
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 20000);
    await eventually(async () => (await settlement.getJob(settleJobId(trade.id, 'releasing'))) === undefined);
    const ran = await settlement.getJobs(['completed', 'failed', 'active']);
    expect(ran.filter((ended) => ended.id === settleJobId(trade.id, 'releasing'))).toEqual([]);
  });

  it('releases at PayPal’s default payout delay and poll: the payout’s webhook completes the trade, its ids recorded, no job left', async () => {
    const { api, test, db } = suite;
    const { traveler, trade } = await paypalTrade(api, '100.00');
    await fundAtPaypal(api, trade, traveler, 20000);
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    // The payout is PENDING for its default two seconds, well inside the poll's default ten: its webhook ends the trade.
    await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 20000);
    const funding = await db.query(
      `SELECT capture_id, payout_batch_id, payout_item_id, settlement_claim FROM trade_fundings WHERE trade_id = $1`,
      [trade.id],
    );
    expect(funding.rows[0]).toMatchObject({ payout_item_id: expect.any(String), settlement_claim: null });
    const steps = await db.query(`SELECT step, status, provider_ref FROM settlement_steps WHERE trade_id = $1 ORDER BY started_at`, [
      trade.id,
    ]);
    expect(steps.rows).toEqual([
      { step: 'capture', status: 'done', provider_ref: funding.rows[0].capture_id },
      { step: 'payout', status: 'done', provider_ref: funding.rows[0].payout_batch_id },
    ]);
    // The payout was begun by the transaction that recorded the capture, at the default delays too.
    const together = await db.query(
      `SELECT (SELECT finished_at FROM settlement_steps WHERE trade_id = $1 AND step = 'capture')
            = (SELECT started_at FROM settlement_steps WHERE trade_id = $1 AND step = 'payout') AS together`,
      [trade.id],
    );
    expect(together.rows[0].together).toBe(true);
    // The releasing job's ten-second retry and the honour capture (days away) were removed with the trade's end.
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    await eventually(async () => {
      const left = await Promise.all([settleJobId(trade.id, 'releasing'), honorCaptureJobId(trade.id)].map((id) => settlement.getJob(id)));
      const waiting = await Promise.all(left.map(async (job) => job && ['delayed', 'waiting'].includes(await job.getState())));
      return waiting.every((isWaiting) => !isWaiting);
    }, 10000);
    // Both settlement runs (the release's and its payout webhook's) were made right after their commits: no
    // `settle-trade` job of the trade ever ran.
    const ran = await settlement.getJobs(['completed', 'failed', 'active']);
    expect(ran.filter((job) => job.name === 'settle-trade' && (job.data as { tradeId?: string }).tradeId === trade.id)).toEqual([]);
  });
});
