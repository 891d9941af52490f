import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { registerUser } from './support/factories';
import { fixed, readyCounterparty, readyTraveler, wechatId, withWallet } from './support/market';
import { eventually } from './support/test-app';
import { settling, cappedPolls, fastBank } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { bankTransfer } from './support/bank';
import { paypalGet, paypalPayoutItems } from './support/paypal';
import { fundedTrade } from './support/trades';

const GRACE_MS = 800;

interface Mismatch {
  tradeId?: string;
  kind: string;
  ledger: Record<string, unknown> | null;
  provider: Record<string, unknown> | null;
  detail: string;
}

/**
 * Reconciliation over HTTP with real workers and the provider mocks: whole trades driven through PayPal and the
 * bank, then the books and the mocks made to disagree, and the runs asked for by an operator.
 */
describe('Reconciliation with the providers (HTTP)', () => {
  const { test, api, db, operator } = useTestApp(
    {
      ...settling,
      ...cappedPolls,
      ...fastBank,
      // Settlement's own flags stay out of the way: a flag seen here is reconciliation's.
      SETTLEMENT_FLAG_AFTER_ATTEMPTS: '1000',
      SETTLEMENT_STEP_FLAG_AFTER_MS: '3600000',
      // Settlement is held by pausing its queue: only its jobs run it, none is run right after a commit.
      SETTLEMENT_AFTER_COMMIT: 'false',
      // The sweep that takes bank money whose callback was lost would book what these tests show reconciliation finding.
      PROVIDER_WORK_SWEEP_EVERY_MS: '3600000',
      RECONCILIATION_EVERY_MS: '3600000',
      RECONCILIATION_GRACE_MS: String(GRACE_MS),
      RECONCILIATION_SEARCH_DELAY_MS: '0',
      PAYPAL_MOCK_UNCLAIMED_RECEIVERS: 'unclaimed-recon@example.com',
      PAYPAL_MOCK_UNCLAIMED_RETURN_MS: '4000',
    },
    { reference: '7.2400', operator: true, checkBooks: true },
  );

  const state = async (tradeId: string) => (await api('GET', `/v1/trades/${tradeId}`, { token: operator.token })).body.state;
  const trade = async (tradeId: string) => (await api('GET', `/v1/trades/${tradeId}`, { token: operator.token })).body;
  /** Past the grace period, so what just changed is old enough to be reconciled. */
  const afterGrace = () => new Promise((resolve) => setTimeout(resolve, GRACE_MS + 200));

  /** An operator asks for a run now; it is done when GET shows a newer run. */
  async function runNow() {
    const before = (await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body.runId ?? 0;
    const queued = await api('POST', '/v1/admin/reconciliation/run', { token: operator.token });
    expect(queued.status).toBe(202);
    expect(queued.body).toEqual({ queued: true, jobId: expect.stringMatching(/^reconcile-now-/) });
    return eventually(async () => {
      const latest = await api('GET', '/v1/admin/reconciliation', { token: operator.token });
      return latest.body.runId > before && latest.body;
    }, 15000);
  }

  /** A funded PayPal trade, paid from payer@example.com. */
  async function paypalTrade(amountCny = '1000.00', payoutEmail?: string) {
    const { traveler, trade } = await fundedTrade(api, { amountCny, handles: { payoutEmail, travelerPaypal: 'payer@example.com' } });
    expect(await state(trade.id)).toBe('funded');
    return { traveler, tradeId: trade.id };
  }

  async function completedPaypalTrade(amountCny = '1000.00') {
    const { traveler, tradeId } = await paypalTrade(amountCny);
    expect((await api('POST', `/v1/trades/${tradeId}/confirm-receipt`, { token: traveler.token })).status).toBe(200);
    await eventually(async () => (await state(tradeId)) === 'completed', 15000);
    return tradeId;
  }

  /** A PayPal trade released because WeChat verified the transfer the counterparty reported, then completed. */
  async function verifiedPaypalTrade(amountCny: string) {
    const [travelerWallet, counterpartyWallet] = [wechatId(), wechatId()];
    const traveler = await withWallet(api, await registerUser(api, 'traveler'), travelerWallet);
    const counterparty = await readyCounterparty(api);
    await withWallet(api, counterparty, counterpartyWallet);
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: travelerWallet, balanceCny: '0.00' } });
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: counterpartyWallet, balanceCny: '5000.00' } });
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny, price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    const created = (await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} })).body;
    const funding = await api('POST', `/v1/trades/${created.id}/funding`, { token: traveler.token, body: {} });
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: 'payer@example.com' } });
    await eventually(async () => (await state(created.id)) === 'funded');
    const sent = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: counterpartyWallet, toWechatId: travelerWallet, amountCny },
    });
    expect(sent.status).toBe(201);
    const reported = await api('POST', `/v1/trades/${created.id}/payout`, {
      token: counterparty.token,
      body: { wechatTransferId: sent.body.transferId },
    });
    expect(reported.status).toBe(200);
    await eventually(async () => (await state(created.id)) === 'completed', 15000);
    return created.id as string;
  }

  /** A funded PayPal trade whose payout window passes: the authorization is voided, the trade refunded. */
  async function refundedPaypalTrade() {
    const { tradeId } = await paypalTrade('700.00');
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [tradeId]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${tradeId}-payout`))).promote();
    await eventually(async () => (await state(tradeId)) === 'refunded', 15000);
    return tradeId;
  }

  async function completedBankTrade() {
    const traveler = await readyTraveler(api);
    const counterparty = await readyCounterparty(api);
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
    });
    const created = (await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} })).body;
    const funding = await api('POST', `/v1/trades/${created.id}/funding`, { token: traveler.token, body: {} });
    const sent = await api('POST', '/sandbox/bank/incoming', {
      body: { reference: funding.body.reference, amountUsd: '138.12', senderAccount: 'DE89370400440532013000' },
    });
    expect(sent.status).toBe(202);
    await eventually(async () => (await state(created.id)) === 'funded');
    expect((await api('POST', `/v1/trades/${created.id}/confirm-receipt`, { token: traveler.token })).status).toBe(200);
    await eventually(async () => (await state(created.id)) === 'completed', 15000);
    return created.id as string;
  }

  async function paypalToken(): Promise<string> {
    const token = await api('POST', '/sandbox/paypal/v1/oauth2/token', {
      rawBody: 'grant_type=client_credentials',
      headers: {
        authorization: `Basic ${Buffer.from('yb-sandbox-client:yb-sandbox-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
    });
    return token.body.access_token;
  }

  /** A payout made at the mock with PayPal's own API, as anyone holding the platform's credentials could. */
  async function payoutAtPaypal(senderBatchId: string, value: string) {
    const made = await api('POST', '/sandbox/paypal/v1/payments/payouts', {
      headers: { authorization: `Bearer ${await paypalToken()}` },
      body: {
        sender_batch_header: { sender_batch_id: senderBatchId, recipient_type: 'EMAIL' },
        items: [
          { recipient_type: 'EMAIL', receiver: 'someone@example.com', amount: { value, currency: 'USD' }, sender_item_id: senderBatchId },
        ],
      },
    });
    expect(made.status).toBe(201);
    const batchId = made.body.batch_header.payout_batch_id as string;
    await eventually(async () => (await paypalGet(api, `/v1/payments/payouts/${batchId}`)).items[0]?.transaction_status === 'SUCCESS');
    return batchId;
  }

  const flagged = async () =>
    ((await api('GET', '/v1/admin/trades?settlementFailing=true&limit=100', { token: operator.token })).body.data as { id: string }[]).map(
      (t) => t.id,
    );
  const gauge = async (kind: string) => {
    const metrics = (await api('GET', '/metrics')).text;
    const match = new RegExp(`^reconciliation_open_mismatches\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(metrics);
    if (!match) throw new Error(`reconciliation_open_mismatches{kind="${kind}"} missing from /metrics`);
    return Number(match[1]);
  };
  const ofTrade = (body: { mismatches: Mismatch[] }, tradeId: string) => body.mismatches.filter((m) => m.tradeId === tradeId);

  it('is for operators only', async () => {
    const traveler = await readyTraveler(api);
    expect((await api('GET', '/v1/admin/reconciliation')).status).toBe(401);
    expect((await api('POST', '/v1/admin/reconciliation/run')).status).toBe(401);
    const forbidden = await api('GET', '/v1/admin/reconciliation', { token: traveler.token });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('forbidden');
    expect((await api('POST', '/v1/admin/reconciliation/run', { token: traveler.token })).status).toBe(403);
    const latest = await api('GET', '/v1/admin/reconciliation', { token: operator.token });
    expect(latest.status).toBe(200);
    expect(latest.body).toEqual(expect.objectContaining({ checkedTrades: expect.any(Number), ok: expect.any(Boolean) }));
    expect(latest.body).toHaveProperty('ranAt');
    expect(Array.isArray(latest.body.mismatches)).toBe(true);
  });

  it('finds PayPal and bank trades that went through clean, and then checks only what changed', async () => {
    const paypalTradeId = await completedPaypalTrade();
    const bankTradeId = await completedBankTrade();
    const refundedTradeId = await refundedPaypalTrade();
    await afterGrace();

    const first = await runNow();
    expect(first.mismatches).toEqual([]);
    expect(first.ok).toBe(true);
    expect(first.checkedTrades).toBeGreaterThanOrEqual(3);
    expect(first.totals.feeRevenue).toEqual({ ledgerUsd: '2.76', expectedUsd: '2.76' }); // $1.38 on each trade
    expect(first.ranAt).toEqual(expect.any(String));
    expect(await gauge('payout_unknown_to_ledger')).toBe(0);
    expect(Number(/^reconciliation_last_run_timestamp_seconds (\S+)$/m.exec((await api('GET', '/metrics')).text)![1])).toBeGreaterThan(0);

    // Nothing changed: nothing to ask the providers about.
    const second = await runNow();
    expect(second.checkedTrades).toBe(0);
    expect(second.ok).toBe(true);

    // One trade more: that one alone.
    const third = await completedPaypalTrade('500.00');
    await afterGrace();
    const run = await runNow();
    expect(run.checkedTrades).toBe(1);
    expect(run.ok).toBe(true);
    expect([paypalTradeId, bankTradeId, refundedTradeId]).not.toContain(third);
  });

  it('runs one at a time: runs asked for together go one after the other, each audited', async () => {
    const before = (await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body.runId;
    const asked = await Promise.all([1, 2].map(() => api('POST', '/v1/admin/reconciliation/run', { token: operator.token })));
    expect(asked.map((r) => r.status)).toEqual([202, 202]);
    // Two runs finished: counted as rows, not by id, since a run that found another running burns an id (ON CONFLICT).
    await eventually(
      async () => (await db.query(`SELECT 1 FROM reconciliation_runs WHERE id > $1 AND finished_at IS NOT NULL`, [before])).rowCount === 2,
      15000,
    );
    const runs = (await db.query(`SELECT error, started_at, finished_at FROM reconciliation_runs WHERE id > $1 ORDER BY id`, [before]))
      .rows;
    expect(runs.map((r) => r.error)).toEqual([null, null]);
    expect(runs[1].started_at.getTime()).toBeGreaterThanOrEqual(runs[0].finished_at.getTime());
    const audit = await api('GET', `/v1/admin/audit?operatorId=${operator.id}&limit=100`, { token: operator.token });
    const jobIds = asked.map((r) => r.body.jobId);
    expect(
      audit.body.data.filter(
        (a: { action: string; detail: { jobId: string } }) => a.action === 'reconciliation.run' && jobIds.includes(a.detail.jobId),
      ),
    ).toHaveLength(2);
  });

  it('catches a payout PayPal made that the books never heard of: a trade left releasing after its payout went through', async () => {
    const { traveler, tradeId } = await paypalTrade('800.00'); // $110.50, fee $1.11, paid out $109.39
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    // PayPal makes every payout and then answers with an error: the platform never hears that it paid.
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1, paths: ['/v1/payments/payouts'] } });
    try {
      await api('POST', `/v1/trades/${tradeId}/confirm-receipt`, { token: traveler.token });
      await eventually(
        async () =>
          (await db.query(`SELECT status FROM paypal_mock_payout_items WHERE sender_item_id = $1`, [`yb-${tradeId}-payout`])).rows[0]
            ?.status === 'SUCCESS',
      );
      // Settlement is held while the answers come back (the fault also fails reads of the batch).
      await settlement.pause();
      await eventually(async () => (await settlement.getActiveCount()) === 0);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    try {
      expect(await state(tradeId)).toBe('releasing');
      await afterGrace();
      const run = await runNow();
      expect(run.ok).toBe(false);
      expect(ofTrade(run, tradeId)).toEqual([
        {
          tradeId,
          kind: 'payout_unknown_to_ledger',
          ledger: { entry: 'counterparty_payable_cleared', amountUsd: null, state: 'releasing' },
          provider: expect.objectContaining({ senderBatchId: `yb-${tradeId}-payout`, itemStatus: 'SUCCESS', amountUsd: '109.39' }),
          detail: expect.stringContaining('PayPal paid out 109.39'),
          openedAt: expect.any(String),
          lastSeenAt: expect.any(String),
        },
      ]);
      expect((await trade(tradeId)).settlementFailing).toBe(true);
      expect(await flagged()).toContain(tradeId);
      expect(await gauge('payout_unknown_to_ledger')).toBe(1);
    } finally {
      await settlement.resume();
    }
    // Settlement goes on, finds the payout, completes the trade: the next run sees it resolved.
    await eventually(async () => (await state(tradeId)) === 'completed', 15000);
    await afterGrace();
    const after = await runNow();
    expect(ofTrade(after, tradeId)).toEqual([]);
    expect(after.ok).toBe(true);
    expect((await trade(tradeId)).settlementFailing).toBe(false);
    expect(await gauge('payout_unknown_to_ledger')).toBe(0);
  });

  it('watches an unclaimed payout, and catches PayPal returning it before the books book it back', async () => {
    const { traveler, tradeId } = await paypalTrade('900.00', 'unclaimed-recon@example.com'); // $124.31, paid out $123.07
    await api('POST', `/v1/trades/${tradeId}/confirm-receipt`, { token: traveler.token });
    await eventually(async () => (await state(tradeId)) === 'completed', 15000);
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    // Settlement is held, so the books stay behind PayPal.
    await settlement.pause();
    try {
      await eventually(async () => (await settlement.getActiveCount()) === 0);
      await afterGrace();
      const unclaimed = await runNow();
      expect(ofTrade(unclaimed, tradeId)).toEqual([]);
      expect((await db.query(`SELECT reason FROM reconciliation_watch WHERE trade_id = $1`, [tradeId])).rows).toEqual([
        { reason: 'payout unclaimed' },
      ]);
      const item = `yb-${tradeId}-payout`;
      await eventually(async () => (await paypalPayoutItems(api, item))[0]?.status === 'RETURNED', 15000);
      // The trade has not changed: it is asked about again because it is watched.
      const returned = await runNow();
      expect(ofTrade(returned, tradeId)).toEqual([
        expect.objectContaining({
          kind: 'payout_returned_not_booked',
          ledger: { entry: 'payout_returned', amountUsd: null, paidUsd: '123.07' },
          provider: expect.objectContaining({ itemStatus: 'RETURNED' }),
        }),
      ]);
    } finally {
      await settlement.resume();
    }
    // Settlement books it back (the trade flagged for an operator's retry): the mismatch is resolved.
    await eventually(
      async () =>
        (await db.query(`SELECT 1 FROM ledger_transfers WHERE trade_id = $1 AND kind = 'payout_returned'`, [tradeId])).rowCount === 1,
      15000,
    );
    await afterGrace();
    expect(ofTrade(await runNow(), tradeId)).toEqual([]);
    expect((await trade(tradeId)).settlementFailing).toBe(true);
  });

  it('catches a payout made at PayPal for a trade, or for no trade, outside the platform', async () => {
    const tradeId = await completedBankTrade();
    await afterGrace();
    expect((await runNow()).ok).toBe(true);
    // Someone pays the trade's counterparty again under the next attempt's sender_batch_id, and pays a stranger.
    const again = await payoutAtPaypal(`yb-${tradeId}-payout-2`, '136.74');
    const stranger = await payoutAtPaypal('not-ours-1', '25.00');
    const run = await runNow();
    expect(run.ok).toBe(false);
    expect(ofTrade(run, tradeId)).toEqual([
      expect.objectContaining({
        kind: 'payout_unknown_to_ledger',
        ledger: { entry: 'counterparty_payable_cleared:2', amountUsd: null, state: 'completed' },
        provider: expect.objectContaining({ payoutBatchId: again, itemStatus: 'SUCCESS', amountUsd: '136.74' }),
      }),
    ]);
    const orphan = run.mismatches.filter((m: Mismatch) => m.provider?.payoutBatchId === stranger);
    expect(orphan).toEqual([
      expect.objectContaining({
        kind: 'payout_unknown_to_ledger',
        ledger: null,
        provider: expect.objectContaining({ senderBatchId: 'not-ours-1' }),
      }),
    ]);
    expect(orphan[0].tradeId).toBeUndefined();
    // Still there next run: an open mismatch stays open until it is resolved.
    const next = await runNow();
    expect(ofTrade(next, tradeId)).toHaveLength(1);
    expect(next.mismatches.filter((m: Mismatch) => m.provider?.payoutBatchId === stranger)).toHaveLength(1);
  });

  /** Sets what the books recorded of a trade's funding (`column`), then runs past the grace period of that change. */
  async function runAfterFundingSet(tradeId: string, column: 'payout_batch_id' | 'capture_id', value: string) {
    await db.query(`UPDATE trade_fundings SET ${column} = $2 WHERE trade_id = $1`, [tradeId, value]);
    await db.query(`UPDATE trades SET updated_at = now() WHERE id = $1`, [tradeId]);
    await afterGrace();
    return runNow();
  }

  it('catches a ledger entry PayPal does not know: a completed trade whose recorded payout batch PayPal never made', async () => {
    const tradeId = await completedPaypalTrade('600.00');
    const recorded = (await db.query(`SELECT payout_batch_id FROM trade_fundings WHERE trade_id = $1`, [tradeId])).rows[0].payout_batch_id;
    const run = await runAfterFundingSet(tradeId, 'payout_batch_id', 'NOSUCHBATCH42');
    expect(ofTrade(run, tradeId)).toEqual([
      expect.objectContaining({
        kind: 'ledger_entry_unknown_to_provider',
        ledger: expect.objectContaining({ payoutBatchId: 'NOSUCHBATCH42', entry: 'counterparty_payable_cleared', amountUsd: '82.04' }),
        provider: null,
      }),
    ]);
    expect((await trade(tradeId)).settlementFailing).toBe(true);
    expect(await flagged()).toContain(tradeId);

    // Put right: the next run resolves it and takes back the flag it raised.
    const after = await runAfterFundingSet(tradeId, 'payout_batch_id', recorded);
    expect(ofTrade(after, tradeId)).toEqual([]);
    expect((await trade(tradeId)).settlementFailing).toBe(false);
    expect(await flagged()).not.toContain(tradeId);
  });

  it('catches a capture the books rely on that PayPal does not have', async () => {
    const tradeId = await completedPaypalTrade('400.00');
    const run = await runAfterFundingSet(tradeId, 'capture_id', 'NOSUCHCAPTURE7');
    expect(ofTrade(run, tradeId)).toEqual([
      expect.objectContaining({
        kind: 'ledger_entry_unknown_to_provider',
        ledger: expect.objectContaining({ captureId: 'NOSUCHCAPTURE7' }),
        detail: 'PayPal has no capture by the id the trade recorded',
      }),
    ]);
  });
  it('catches a WeChat transfer a trade released on verification claims that WeChat does not know', async () => {
    const tradeId = await verifiedPaypalTrade('300.00');
    await db.query(`UPDATE trades SET wechat_transfer_id = 'WXNOSUCHTRANSFER01', updated_at = now() WHERE id = $1`, [tradeId]);
    // A release on the traveler's own word answers for the RMB whatever transfer was reported: not a mismatch.
    const confirmed = await completedPaypalTrade('301.00');
    await db.query(`UPDATE trades SET wechat_transfer_id = 'WXNOSUCHTRANSFER02', updated_at = now() WHERE id = $1`, [confirmed]);
    await afterGrace();
    const run = await runNow();
    expect(ofTrade(run, confirmed)).toEqual([]);
    expect(ofTrade(run, tradeId)).toEqual([
      expect.objectContaining({
        kind: 'wechat_transfer_mismatch',
        ledger: { wechatTransferId: 'WXNOSUCHTRANSFER01', amountCny: '300.00', state: 'completed' },
        provider: null,
      }),
    ]);
  });

  it('concludes nothing about a trade whose provider cannot answer: its mismatches stay open, and the run is not clean', async () => {
    const before = (await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body;
    const capture = before.mismatches.find((m: Mismatch) => m.ledger?.captureId === 'NOSUCHCAPTURE7');
    expect(capture).toBeDefined();
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true } });
    try {
      const run = await runNow();
      expect(run.ok).toBe(false);
      expect(run.inconclusiveTrades).toBeGreaterThan(0);
      expect(run.totals.searchesFailed).toEqual(['paypal_payouts']);
      expect(ofTrade(run, capture.tradeId)).toEqual([expect.objectContaining({ kind: 'ledger_entry_unknown_to_provider' })]);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
  });

  it("catches money the bank settled that the books never took: a transfer to an ended trade's reference, its callback lost", async () => {
    const tradeId = await completedBankTrade();
    const reference = (await db.query(`SELECT bank_reference FROM trade_fundings WHERE trade_id = $1`, [tradeId])).rows[0].bank_reference;
    await afterGrace();
    expect(ofTrade(await runNow(), tradeId)).toEqual([]);
    // The bank's callbacks are lost, and nothing polls a trade that has ended: only the bank knows.
    await api('PUT', '/sandbox/faults', { body: { provider: 'bank', dropWebhooks: 1 } });
    let transferId: string;
    try {
      const sent = await api('POST', '/sandbox/bank/incoming', {
        body: { reference: reference.toLowerCase(), amountUsd: '20.00', senderAccount: 'DE89370400440532013000' },
      });
      transferId = sent.body.transferId;
      await eventually(async () => (await bankTransfer(api, transferId)).status === 'settled');
      const stranger = await api('POST', '/sandbox/bank/incoming', { body: { reference: 'NOBODY-123', amountUsd: '5.00' } });
      await eventually(async () => (await bankTransfer(api, stranger.body.transferId)).status === 'settled');
      await afterGrace();
      const run = await runNow();
      expect(ofTrade(run, tradeId)).toEqual([
        expect.objectContaining({
          kind: 'bank_incoming_unknown_to_ledger',
          ledger: null,
          provider: expect.objectContaining({ transferId, status: 'settled', amountUsd: '20.00' }),
        }),
      ]);
      expect(run.mismatches.filter((m: Mismatch) => m.provider?.transferId === stranger.body.transferId)).toEqual([
        expect.objectContaining({ kind: 'bank_incoming_unknown_to_ledger', ledger: null }),
      ]);
      // Seen again next run: the trade's check finds it by id though its reference was typed in lower case.
      expect(ofTrade(await runNow(), tradeId)).toHaveLength(1);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'bank' } });
    }
  });

  // Last: the payout it makes for no trade stays an open mismatch.
  it("answers PayPal's reads at the mock as PayPal does: a refund, and Transaction Search over payouts", async () => {
    const token = await paypalToken();
    const auth = { authorization: `Bearer ${token}` };
    const order = await api('POST', '/sandbox/paypal/v2/checkout/orders', {
      headers: auth,
      body: { intent: 'AUTHORIZE', purchase_units: [{ amount: { currency_code: 'USD', value: '10.00' } }] },
    });
    await api('POST', `/sandbox/paypal/orders/${order.body.id}/approve`, { body: {} });
    const authorized = await api('POST', `/sandbox/paypal/v2/checkout/orders/${order.body.id}/authorize`, { headers: auth, body: {} });
    const authorizationId = authorized.body.purchase_units[0].payments.authorizations[0].id;
    const capture = await api('POST', `/sandbox/paypal/v2/payments/authorizations/${authorizationId}/capture`, { headers: auth, body: {} });
    const refund = await api('POST', `/sandbox/paypal/v2/payments/captures/${capture.body.id}/refund`, {
      headers: auth,
      body: { amount: { currency_code: 'USD', value: '4.00' } },
    });
    const shown = await api('GET', `/sandbox/paypal/v2/payments/refunds/${refund.body.id}`, { headers: auth });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(
      expect.objectContaining({ id: refund.body.id, status: 'COMPLETED', amount: { currency_code: 'USD', value: '4.00' } }),
    );
    expect(shown.body.links).toContainEqual(
      expect.objectContaining({ rel: 'up', href: expect.stringContaining(`/v2/payments/captures/${capture.body.id}`) }),
    );
    const missing = await api('GET', '/sandbox/paypal/v2/payments/refunds/NOSUCHREFUND', { headers: auth });
    expect(missing.status).toBe(404);
    expect(missing.body.name).toBe('RESOURCE_NOT_FOUND');
    expect((await api('GET', `/sandbox/paypal/v2/payments/refunds/${refund.body.id}`)).status).toBe(401);

    const batchId = await payoutAtPaypal('conformance-payout-1', '1.50');
    const start = new Date(Date.now() - 60000).toISOString();
    const end = new Date(Date.now() + 1000).toISOString();
    const search = await api(
      'GET',
      `/sandbox/paypal/v1/reporting/transactions?start_date=${start}&end_date=${end}&transaction_type=T0001&page_size=500`,
      {
        headers: auth,
      },
    );
    expect(search.status).toBe(200);
    expect(search.body.transaction_details).toContainEqual({
      transaction_info: expect.objectContaining({
        paypal_reference_id: batchId,
        transaction_event_code: 'T0001',
        transaction_status: 'S',
        transaction_amount: { currency_code: 'USD', value: '-1.50' },
      }),
    });
    const tooLong = await api(
      'GET',
      `/sandbox/paypal/v1/reporting/transactions?start_date=2020-01-01T00:00:00Z&end_date=2020-03-01T00:00:00Z`,
      {
        headers: auth,
      },
    );
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.name).toBe('INVALID_REQUEST');
    expect((await api('GET', '/sandbox/paypal/v1/reporting/transactions', { headers: auth })).status).toBe(400);
    for (const query of [`start_date=-200000-01-01T00:00:00Z&end_date=${end}`, `start_date=${start}&end_date=${end}&page=1e300`]) {
      const refused = await api('GET', `/sandbox/paypal/v1/reporting/transactions?${query}`, { headers: auth });
      expect([refused.status, refused.body.name]).toEqual([400, 'INVALID_REQUEST']);
    }

    // The bank's statement of settled incoming transfers, by window and page.
    const bank = { authorization: 'Bearer yb-sandbox-bank-key' };
    const statement = await api('GET', `/sandbox/bank/v1/transfers?settledFrom=${start}&settledTo=${end}&limit=500`, { headers: bank });
    expect(statement.status).toBe(200);
    expect(statement.body.hasMore).toBe(false);
    expect(statement.body.data.every((t: { direction: string; status: string }) => t.direction === 'incoming')).toBe(true);
    const badPage = await api('GET', `/sandbox/bank/v1/transfers?settledFrom=${start}&settledTo=${end}&page=1e300`, { headers: bank });
    expect(badPage.status).toBe(400);
    expect(badPage.body.errors.map((e: { field: string }) => e.field)).toEqual(['page']);
  });
});
