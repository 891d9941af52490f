import { randomUUID } from 'node:crypto';
import { PaypalMockIdentity } from '../src/sandbox/paypal/paypal-mock.identity';
import { signedString, signTransmission } from '../src/payments/providers/paypal/paypal-webhook-signature';
import { FieldEncryption } from '../src/common/crypto/field-encryption';
import { loadPaypalConfig } from '../src/config';
import { pollAttemptsWithin } from '../src/queues/retry-policies';
import { PROVIDER_EVENT_CONTEXT } from '../src/payments/funding/provider-webhooks.controller';
import { PaypalRestClient } from '../src/payments/providers/paypal/paypal-rest.client';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { ProviderWorkSweeper } from '../src/payments/funding/provider-work.sweeper';
import { createOperator, TestUser } from './support/factories';
import { completedJobResult, eventually } from './support/test-app';
import { liveCounterMismatches } from './support/invariants';
import { paypalTrade as newPaypalTrade } from './support/paypal-trades';
import { paypalOrder, paypalPayoutBatches, paypalPayoutItems, postSignedPaypalWebhook } from './support/paypal';
import { settling, cappedPolls } from './support/settings';
import { tradeState } from './support/trades';
import { useTestApp } from './support/use-test-app';

/** The USD leg through PayPal (the mock), end to end over HTTP with real workers: funding, release, refund. */
describe('PayPal funding and settlement (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    {
      ...settling,
      ...cappedPolls,
      SETTLEMENT_FLAG_AFTER_ATTEMPTS: '2',
      PAYPAL_MOCK_UNCLAIMED_RECEIVERS: 'unclaimed-receiver@example.com',
      PAYPAL_MOCK_UNCLAIMED_RETURN_MS: '300',
    },
    { reference: '7.2400', checkBooks: true },
  );

  const state = (tradeId: string, token: string) => tradeState(api, tradeId, token);

  const paypalTrade = (amountCny?: string, payoutEmail?: string) => newPaypalTrade(api, amountCny, payoutEmail);

  async function settlementFailingGauge(): Promise<number> {
    const metrics = await api('GET', '/metrics');
    const match = /^trades_settlement_failing (\d+)$/m.exec(metrics.text);
    if (!match) throw new Error('trades_settlement_failing missing from /metrics');
    return Number(match[1]);
  }

  async function fund(trade: { id: string }, traveler: TestUser) {
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(funding.status).toBe(201);
    expect(funding.body).toEqual({
      provider: 'paypal',
      orderId: expect.any(String),
      approveUrl: `${test.baseUrl}/sandbox/paypal/checkoutnow?token=${funding.body.orderId}`,
    });
    // Asked again while the order is live: the same order, 200.
    const again = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.orderId).toBe(funding.body.orderId);
    // The traveler approves at PayPal; its webhook (or the poll) authorizes and funds.
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: 'traveler-paypal@example.com' } });
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    return funding.body.orderId as string;
  }

  /** The payout window passes now: the deadline moved to the past and its delayed job run at once. */
  const passPayoutWindow = async (tradeId: string) => {
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [tradeId]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${tradeId}-payout`))).promote();
  };
  /** The refunds of the captures of an order's authorization, as PayPal shows the order. */
  const refundsOf = async (orderId: string) => (await paypalOrder(api, orderId)).refunds.map(({ amountCents }) => ({ amountCents }));

  it('takes a trade from funding to completed: authorized, captured, paid out less the fee, books settled', async () => {
    const { traveler, counterparty, payoutEmail, trade } = await paypalTrade('1000.00'); // $138.12, fee $1.38
    const orderId = await fund(trade, traveler);
    const authorization = (await paypalOrder(api, orderId)).authorization!;
    expect({ status: authorization.status, amountCents: authorization.amountCents }).toEqual({ status: 'CREATED', amountCents: '13812' });
    await expectClean();

    expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token })).body.state).toBe('releasing');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);

    const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(payout.map(({ receiver, amountCents, status }) => ({ receiver, amountCents, status }))).toEqual([
      { receiver: payoutEmail, amountCents: '13674', status: 'SUCCESS' },
    ]);
    const captured = (await paypalOrder(api, orderId)).authorization!;
    expect({ status: captured.status, capturedCents: captured.capturedCents }).toEqual({ status: 'CAPTURED', capturedCents: '13812' });
    // PayPal's fees are the platform's cost: 3.49% + $0.49 on the capture ($5.31), 2% on the payout ($2.73).
    const fees = await db.query(`SELECT kind, amount FROM ledger_transfers WHERE trade_id = $1 AND kind LIKE 'provider_%' ORDER BY kind`, [
      trade.id,
    ]);
    expect(fees.rows).toEqual([
      { kind: 'provider_capture_fee', amount: '531' },
      { kind: 'provider_payout_fee', amount: '273' },
    ]);
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: counterparty.token })).body.data;
    expect(events.map((e: { toState: string }) => e.toState)).toEqual(['awaiting_funding', 'funded', 'releasing', 'completed']);
    await expectClean();
  });

  it('refunds a funded trade whose payout window passed: the authorization voided', async () => {
    const { traveler, trade } = await paypalTrade('100.00');
    const orderId = await fund(trade, traveler);
    await passPayoutWindow(trade.id);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 15000);
    expect((await paypalOrder(api, orderId)).authorization!.status).toBe('VOIDED');
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.feeUsd).toBe('0.00');
    await expectClean();
  });

  const promoteHonorCapture = async (tradeId: string) => {
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    // Due at four fifths of the 3-day honour period: days past the sweep's horizon, so not queued at funding. Funded
    // (as far as the books say) a minute before it is due, the trade's capture is queued by the provider-work sweep,
    // and promoted here instead of waiting for it.
    expect(await settlement.getJob(`honor-capture-${tradeId}`)).toBeUndefined();
    await db.query(`UPDATE trades SET funded_at = now() - interval '207360 seconds' + interval '60 seconds' WHERE id = $1`, [tradeId]);
    await test.app.get(ProviderWorkSweeper).sweep();
    const job = await eventually(async () => settlement.getJob(`honor-capture-${tradeId}`));
    expect(job.name).toBe(JOBS.settlement.captureIntoEscrow);
    expect(job.opts.delay).toBeGreaterThan(50_000);
    expect(job.opts.delay).toBeLessThanOrEqual(60_000);
    await job.promote();
  };
  const authorizationOf = async (orderId: string) => (await paypalOrder(api, orderId)).authorization!;

  it('captures a held authorization into escrow before its honour period ends, then releases out of the capture', async () => {
    const { traveler, payoutEmail, trade } = await paypalTrade('1000.00'); // $138.12, fee $1.38
    const orderId = await fund(trade, traveler);
    await promoteHonorCapture(trade.id);
    await eventually(async () => (await authorizationOf(orderId)).status === 'CAPTURED');
    expect(await state(trade.id, traveler.token)).toBe('funded');
    await expectClean();

    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    expect((await paypalOrder(api, orderId)).captures).toHaveLength(1);
    const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(payout.map(({ receiver, amountCents }) => ({ receiver, amountCents }))).toEqual([
      { receiver: payoutEmail, amountCents: '13674' },
    ]);
    await expectClean();
  });

  it('captures a held authorization past its capture time whose job never ran: the provider-work sweep queues it', async () => {
    const { traveler, trade } = await paypalTrade('1000.00');
    const orderId = await fund(trade, traveler);
    // Its capture fell due a minute ago and no job holds it (Redis lost it, or no sweep ran as it neared).
    await db.query(`UPDATE trades SET funded_at = now() - interval '207360 seconds' - interval '60 seconds' WHERE id = $1`, [trade.id]);
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    expect(await settlement.getJob(`honor-capture-${trade.id}`)).toBeUndefined();
    expect((await test.app.get(ProviderWorkSweeper).sweep()).requeued).toBeGreaterThanOrEqual(1);
    await eventually(async () => (await authorizationOf(orderId)).status === 'CAPTURED');
    expect(await state(trade.id, traveler.token)).toBe('funded');
    await expectClean();
  });

  it('refunds the capture, not the authorization, when the payout window passes after the honour-period capture', async () => {
    const { traveler, trade } = await paypalTrade('1000.00');
    const orderId = await fund(trade, traveler);
    await promoteHonorCapture(trade.id);
    await eventually(async () => (await authorizationOf(orderId)).status === 'CAPTURED');
    await passPayoutWindow(trade.id);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 15000);
    expect(await refundsOf(orderId)).toEqual([{ amountCents: '13812' }]);
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.feeUsd).toBe('0.00');
    await expectClean();
  });

  it('refunds a capture whose answer was lost: the refused void recovers it by replaying the capture', async () => {
    const { traveler, trade } = await paypalTrade('1000.00');
    const orderId = await fund(trade, traveler);
    const authorizationId = (await paypalOrder(api, orderId)).authorization!.id;
    const capturePath = `/v2/payments/authorizations/${authorizationId}/capture`;
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1, paths: [capturePath] } });
    try {
      await promoteHonorCapture(trade.id);
      await eventually(async () => (await authorizationOf(orderId)).status === 'CAPTURED');
      // Captured at PayPal, never recorded here; meanwhile the payout window passes and the trade is refunding.
      await passPayoutWindow(trade.id);
      await eventually(async () => (await state(trade.id, traveler.token)) === 'refunding');
      expect((await db.query(`SELECT capture_id FROM trade_fundings WHERE trade_id = $1`, [trade.id])).rows[0].capture_id).toBeNull();
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 15000);
    expect(await refundsOf(orderId)).toEqual([{ amountCents: '13812' }]);
    await expectClean();
  });

  it('captures into escrow as soon as a dispute opens, whatever is left of the honour period', async () => {
    const { traveler, trade } = await paypalTrade('1000.00');
    const orderId = await fund(trade, traveler);
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
    });
    expect(opened.status).toBe(201);
    await eventually(async () => (await authorizationOf(orderId)).status === 'CAPTURED');
    expect(await state(trade.id, traveler.token)).toBe('disputed');
    await expectClean();
  });

  it('settles an operator split at PayPal: the traveler part refunded from the capture, the counterparty part paid out less its fee', async () => {
    const operator = await createOperator(test, api);
    const { traveler, payoutEmail, trade } = await paypalTrade('1000.00'); // $138.12
    const orderId = await fund(trade, traveler);
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Only part arrived.' },
    });
    // $50.01 back to the traveler, $88.11 to the counterparty less 1% ($0.88): odd cents on both sides.
    const resolved = await api('POST', `/v1/admin/disputes/${opened.body.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '50.01', counterpartyUsd: '88.11', note: 'Part arrived.' },
    });
    expect(resolved.status).toBe(200);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'settled_split', 15000);
    expect(await refundsOf(orderId)).toEqual([{ amountCents: '5001' }]);
    const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(payout.map(({ receiver, amountCents, status }) => ({ receiver, amountCents, status }))).toEqual([
      { receiver: payoutEmail, amountCents: '8723', status: 'SUCCESS' },
    ]);
    const view = (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body;
    expect(view.feeUsd).toBe('0.88');
    // What the counterparty received: the payout above.
    expect(view.netUsd).toBe('87.23');
    await expectClean();
  });

  it('leaves a trade alone at the honour deadline once it has ended or is settling', async () => {
    const { traveler, trade } = await paypalTrade('100.00');
    const orderId = await fund(trade, traveler);
    await passPayoutWindow(trade.id);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 15000);
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    // The honour capture, days away, was never queued. A copy that still comes (the sweep's offer as it neared, a
    // removal that failed) runs and does nothing.
    await settlement.add(JOBS.settlement.captureIntoEscrow, { tradeId: trade.id }, { jobId: `honor-capture-${trade.id}` });
    expect(await completedJobResult(settlement, `honor-capture-${trade.id}`)).toEqual({ outcome: 'nothing' });
    expect((await authorizationOf(orderId)).status).toBe('VOIDED');
    await expectClean();
  });

  it('takes each webhook once: five deliveries of one event are five 200s and one change; forged, unsigned and stale ones are 401', async () => {
    const { traveler, trade } = await paypalTrade('100.00');
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    const identity = await test.app.get(PaypalMockIdentity).get();
    const event = {
      id: `WH-TEST-${randomUUID()}`,
      event_type: 'CHECKOUT.ORDER.APPROVED',
      resource: { id: funding.body.orderId, status: 'APPROVED' },
    };
    const raw = JSON.stringify(event);
    const headers = (time = new Date().toISOString(), body = raw, key = identity.privateKey) => {
      const transmissionId = randomUUID();
      return {
        'content-type': 'application/json',
        'paypal-transmission-id': transmissionId,
        'paypal-transmission-time': time,
        'paypal-transmission-sig': signTransmission(key, signedString(transmissionId, time, 'WH-YB-SANDBOX', body)),
        'paypal-cert-url': `${test.baseUrl}/sandbox/paypal/v1/notifications/certs/CERT-mock-1`,
        'paypal-auth-algo': 'SHA256withRSA',
      };
    };
    const post = (h: Record<string, string>, body = raw) => api('POST', '/v1/provider-webhooks/paypal', { rawBody: body, headers: h });

    const { 'paypal-transmission-sig': _sig, ...unsigned } = headers();
    for (const refused of [
      await post(unsigned),
      await post(headers(new Date(Date.now() - 10 * 60 * 1000).toISOString())),
      await post({ ...headers(), 'paypal-transmission-sig': headers()['paypal-transmission-sig'] }),
      await post(headers(), raw.replace('APPROVED', 'VOIDED')),
    ]) {
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('invalid_signature');
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = $1`, [event.id])).rows[0].n).toBe(0);

    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, {});
    const deliveries = await Promise.all(Array.from({ length: 5 }, () => post(headers())));
    expect(deliveries.map((d) => d.status)).toEqual([200, 200, 200, 200, 200]);
    expect(deliveries.filter((d) => d.body.duplicate === false)).toHaveLength(1);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    const funded = await db.query(`SELECT count(*)::int AS n FROM trade_events WHERE trade_id = $1 AND to_state = 'funded'`, [trade.id]);
    expect(funded.rows[0].n).toBe(1);
    // Kept for audit, encrypted: the exact bytes come back, and the table holds no email in clear.
    const stored = (await db.query(`SELECT raw_ciphertext, raw_key_id FROM provider_events WHERE event_id = $1`, [event.id])).rows[0];
    expect(
      test.app.get(FieldEncryption).decrypt({ ciphertext: stored.raw_ciphertext, keyId: stored.raw_key_id }, PROVIDER_EVENT_CONTEXT),
    ).toBe(raw);
    const dump = await db.query(`SELECT string_agg(raw_ciphertext, ' ') AS all FROM provider_events`);
    expect(dump.rows[0].all).not.toMatch(/@example\.com/);
  });

  it('takes a whole trade through with its webhooks reordered and duplicated, and an old event after the end: each state once', async () => {
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', reorderWebhooks: true, duplicateWebhooks: 1, seed: 11 } });
    let orderId: string;
    const { traveler, trade } = await paypalTrade('100.00');
    try {
      orderId = await fund(trade, traveler);
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
      // The order's events were each delivered twice (in any order), and the platform took each once.
      await eventually(async () => {
        const sent = await db.query(
          `SELECT event_id, count(*)::int AS n FROM paypal_mock_transmissions WHERE raw_body LIKE $1 GROUP BY event_id`,
          [`%${orderId}%`],
        );
        return sent.rows.length >= 2 && sent.rows.every((r: { n: number }) => r.n >= 2);
      });
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    // The order's approval again, long after the trade completed: stored, and nothing moves.
    const identity = await test.app.get(PaypalMockIdentity).get();
    const raw = JSON.stringify({
      id: `WH-LATE-${randomUUID()}`,
      event_type: 'CHECKOUT.ORDER.APPROVED',
      resource: { id: orderId!, status: 'APPROVED' },
    });
    const late = await postSignedPaypalWebhook(api, test.baseUrl, identity.privateKey, raw);
    expect(late.status).toBe(200);
    expect(late.body).toEqual({ received: true, duplicate: false });
    // No check could act on a completed trade: the event is kept, and no job is queued for it.
    const lateId = JSON.parse(raw).id;
    expect((await db.query(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = $1`, [lateId])).rows[0].n).toBe(1);
    expect((await db.query(`SELECT count(*)::int AS n FROM outbox WHERE job_id LIKE $1`, [`%${lateId}%`])).rows[0].n).toBe(0);
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    expect(events.filter((e: { type: string }) => e.type === 'state_changed').map((e: { toState: string }) => e.toState)).toEqual([
      'awaiting_funding',
      'funded',
      'releasing',
      'completed',
    ]);
    await expectClean();
  });

  it('cancels as a self-trade when the PayPal payer is the counterparty’s payout account', async () => {
    const { traveler, payoutEmail, trade } = await paypalTrade('100.00');
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: payoutEmail.toUpperCase() } });
    await eventually(async () => (await state(trade.id, traveler.token)) === 'cancelled');
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    expect(events[1]).toMatchObject({ actor: { kind: 'system', id: null }, toState: 'cancelled', detail: { reason: 'self_trade' } });
    // Nothing was authorized, so nothing is held.
    expect((await paypalOrder(api, funding.body.orderId)).authorization).toBeNull();
    await expectClean();
  });

  it('captures exactly once when PayPal captures and then fails', async () => {
    const { traveler, trade } = await paypalTrade('100.00');
    const orderId = await fund(trade, traveler);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1 } });
    try {
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      // PayPal captures but answers with an error, again and again: the job retries with the same request id.
      await eventually(
        async () =>
          (await db.query(`SELECT status FROM paypal_mock_authorizations WHERE order_id = $1`, [orderId])).rows[0].status === 'CAPTURED',
      );
      const replays = await db.query(`SELECT count(*)::int AS n FROM paypal_mock_replays WHERE request_id = $1`, [
        `yb-${trade.id}-capture`,
      ]);
      expect(replays.rows[0].n).toBe(1);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    expect((await paypalOrder(api, orderId)).captures).toHaveLength(1);
    expect(await paypalPayoutItems(api, `yb-${trade.id}-payout`)).toHaveLength(1);
    await expectClean();
  });

  it('pays out exactly once when PayPal creates the payout and then fails', async () => {
    const { traveler, trade } = await paypalTrade('1000.00'); // $138.12, fee $1.38
    await fund(trade, traveler);
    // Only the payouts API misbehaves: the capture goes through, every payout call does its work and then fails.
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', failAfterSuccess: 1, paths: ['/v1/payments/payouts'] } });
    // Read from the mock's table: while every payouts call fails, PayPal's API cannot show the batch.
    const batchesOf = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM paypal_mock_payout_batches WHERE sender_batch_id = $1`, [`yb-${trade.id}-payout`]))
        .rows[0].n;
    try {
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      await eventually(async () => (await batchesOf()) === 1);
      // The payout exists at PayPal, but the platform never heard so: the trade is still settling.
      expect(await state(trade.id, traveler.token)).toBe('releasing');
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    // Once PayPal answers again, its API shows the one batch.
    expect((await paypalPayoutBatches(api)).filter((batch) => batch.senderBatchId === `yb-${trade.id}-payout`)).toHaveLength(1);
    const items = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(items.map(({ amountCents, status }) => ({ amountCents, status }))).toEqual([{ amountCents: '13674', status: 'SUCCESS' }]);
    await expectClean();
  });

  it('flags a settlement while PayPal is down, lists it for operators, and completes it once PayPal is back', async () => {
    const operator = await createOperator(test, api);
    const { traveler, trade } = await paypalTrade('100.00');
    await fund(trade, traveler);
    const flaggedBefore = await settlementFailingGauge();
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true } });
    try {
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === true);
      expect(await settlementFailingGauge()).toBe(flaggedBefore + 1);
      const flagged = await api('GET', '/v1/admin/trades?settlementFailing=true', { token: operator.token });
      expect(flagged.body.data.map((t: { id: string }) => t.id)).toContain(trade.id);
      expect((await api('GET', '/v1/admin/trades?settlementFailing=true', { token: traveler.token })).status).toBe(403);
      expect((await api('GET', '/v1/admin/trades?settlementFailing=maybe', { token: operator.token })).status).toBe(400);
      // The operator retries while PayPal is still down; the retry and the job's own go through once it is back.
      const retried = await api('POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: operator.token });
      expect(retried.status).toBe(200);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing).toBe(false);
    expect(await settlementFailingGauge()).toBe(flaggedBefore);
    const audit = await api('GET', `/v1/admin/audit?tradeId=${trade.id}`, { token: operator.token });
    expect(audit.body.data.map((a: { action: string }) => a.action)).toEqual(['trade.retry_settlement']);
    expect((await api('POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: operator.token })).body.code).toBe(
      'invalid_state_transition',
    );
    await expectClean();
  });

  it('books back a payout PayPal returned unclaimed after the trade completed, flags it, and pays it again on an operator retry', async () => {
    const operator = await createOperator(test, api);
    const { traveler, counterparty, trade } = await paypalTrade('1000.00', 'unclaimed-receiver@example.com'); // net $136.74
    await fund(trade, traveler);
    await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    // Unclaimed is paid as far as we can tell: the money left, and waits for the receiver.
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    // The claim period passes: PayPal returns it, the payable reopens, the trade is flagged and stays completed.
    await eventually(
      async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === true,
      15000,
    );
    expect(await state(trade.id, traveler.token)).toBe('completed');
    const flagged = await api('GET', '/v1/admin/trades?settlementFailing=true', { token: operator.token });
    expect(flagged.body.data.map((t: { id: string }) => t.id)).toContain(trade.id);
    const payable = async () =>
      (
        await db.query(`SELECT (credits_posted - debits_posted)::text AS owed FROM ledger_accounts WHERE id = $1`, [
          `counterparty_payable:${trade.id}`,
        ])
      ).rows[0].owed;
    expect(await payable()).toBe('13674');
    await expectClean();

    // The counterparty puts an email they can claim with; the operator pays again, there.
    const claimable = `claimable-${randomUUID().slice(0, 8)}@example.com`;
    expect(
      (await api('PUT', '/v1/me/payout-account', { token: counterparty.token, body: { method: 'paypal', paypalEmail: claimable } })).status,
    ).toBe(200);
    const retried = await api('POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: operator.token });
    expect(retried.status).toBe(200);
    await eventually(
      async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === false,
      15000,
    );
    const items = (await paypalPayoutItems(api, `yb-${trade.id}-payout`, { prefix: true }))
      .map(({ senderItemId, receiver, amountCents, status }) => ({ senderItemId, receiver, amountCents, status }))
      .sort((a, b) => (a.senderItemId! < b.senderItemId! ? -1 : 1));
    expect(items).toEqual([
      { senderItemId: `yb-${trade.id}-payout`, receiver: 'unclaimed-receiver@example.com', amountCents: '13674', status: 'RETURNED' },
      { senderItemId: `yb-${trade.id}-payout-2`, receiver: claimable, amountCents: '13674', status: 'SUCCESS' },
    ]);
    expect(await payable()).toBe('0');
    expect(await state(trade.id, traveler.token)).toBe('completed');
    // Nothing came back this time: another retry is refused.
    expect((await api('POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: operator.token })).status).toBe(409);
    await expectClean();
  });

  /** The funding window passes now: the deadline moved to the past and its delayed job run at once. */
  const passFundingWindow = async (tradeId: string) => {
    await db.query(`UPDATE trades SET funding_by = now() - interval '1 second' WHERE id = $1`, [tradeId]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${tradeId}-funding`))).promote();
  };

  it.each(['cancelled', 'expired'])('voids an authorization that arrives for a trade that was %s', async (ended) => {
    const { traveler, trade } = await paypalTrade('100.00');
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    // The trade ends; the approval comes after, and an earlier check authorized at PayPal and was lost.
    if (ended === 'cancelled') await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token });
    else await passFundingWindow(trade.id);
    await eventually(async () => (await state(trade.id, traveler.token)) === ended);
    // Its order is no longer live: asking for funding again is refused, not answered with the dead order.
    const again = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'invalid_state_transition', detail: expect.stringContaining(ended) });
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, {});
    const paypalPort = new PaypalRestClient({ ...loadPaypalConfig({}), baseUrl: `${test.baseUrl}/sandbox/paypal` });
    await paypalPort.authorizeOrder(funding.body.orderId, `yb-${trade.id}-authorize`);
    await test.app
      .get(QueueRegistry)
      .get(QUEUES.funding)
      .add(JOBS.funding.checkFunding, { tradeId: trade.id }, { jobId: `check-funding-${trade.id}-late` });
    await eventually(async () => (await paypalOrder(api, funding.body.orderId)).authorization?.status === 'VOIDED');
    expect(await state(trade.id, traveler.token)).toBe(ended);
    await expectClean();
  });

  it('funds by polling alone when PayPal’s webhooks never arrive, backing off while the buyer has not approved', async () => {
    const { traveler, trade } = await paypalTrade('100.00');
    const funding = test.app.get(QueueRegistry).get(QUEUES.funding);
    const pollId = `check-funding-${trade.id}-poll`;
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', dropWebhooks: 1 } });
    try {
      const order = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
      expect(order.status).toBe(201);
      // From the poll interval, doubling to the cap, for as many runs as the 30-minute funding window holds.
      const poll = await eventually(async () => funding.getJob(pollId));
      expect(poll.opts.backoff).toEqual({ type: 'poll', delay: 200, capMs: 1000 });
      expect(poll.opts.attempts).toBe(pollAttemptsWithin(30 * 60 * 1000, 200, 1000));
      // The poll asks and is told "not yet" a few times (retried by the `poll` backoff) before the buyer approves.
      await eventually(async () => ((await funding.getJob(pollId))?.attemptsMade ?? 0) >= 3);
      await api('POST', `/sandbox/paypal/orders/${order.body.orderId}/approve`, {});
      await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    expect(await completedJobResult(funding, pollId)).toEqual({ outcome: 'funded' });
  });

  it('answers 503, not 500, when PayPal is down at funding, and nothing is recorded', async () => {
    const { traveler, trade } = await paypalTrade('100.00');
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true } });
    try {
      const refused = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('service_unavailable');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM trade_fundings WHERE trade_id = $1`, [trade.id])).rows[0].n).toBe(0);
    expect((await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} })).status).toBe(201);
  });

  it("keeps every party's live-trade counter equal to a count of their live trades", async () => {
    const trades = await db.query(`SELECT count(*)::int AS n FROM trades`);
    expect(trades.rows[0].n).toBeGreaterThan(0);
    expect(await liveCounterMismatches(db)).toEqual([]);
  });
});
