import { randomUUID } from 'node:crypto';
import { WechatPayClient } from '../src/payments/providers/wechat/wechatpay.client';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { TestUser } from './support/factories';
import { wechatId } from './support/market';
import { completedJobResult, eventually } from './support/test-app';
import { settling, fastBank } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundTrade, newTrade, tradeState } from './support/trades';
import { paypalPayoutItems } from './support/paypal';

/** The RMB leg end to end: the WeChat mock's wallets, the counterparty's report, verification, and the last search. */
describe('WeChat verification (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    {
      ...settling,
      ...fastBank,
      VERIFY_TIMEOUT_MS: '1500',
      WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '100,100',
      // The verification's jobs, each held or removed here: the same work run after the commit is its own file's.
      PROVIDER_CHECKS_AFTER_COMMIT: 'false',
    },
    { reference: '7.2400' },
  );

  const state = (tradeId: string, token: string) => tradeState(api, tradeId, token);
  const balance = async (id: string) => (await api('GET', `/sandbox/wechat/wallets/${id}`)).body.balanceCny;
  const send = async (from: string, to: string, amountCny: string) => {
    const sent = await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny } });
    expect(sent.status).toBe(201);
    return sent.body.transferId as string;
  };

  /** A funded trade of 1000 CNY ($138.12), by PayPal or bank transfer, both parties with WeChat wallets at the mock. */
  async function fundedTrade(paymentMethod: 'paypal' | 'bank_transfer' = 'paypal') {
    const opened = await newTrade(api, { paymentMethod });
    const { travelerWechat: travelerWallet, counterpartyWechat: counterpartyWallet } = opened.handles;
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: travelerWallet, balanceCny: '0.00' } });
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: counterpartyWallet, balanceCny: '5000.00' } });
    const { traveler, counterparty, trade, payoutEmail } = await fundTrade(api, opened);
    return { traveler, counterparty, trade, travelerWallet, counterpartyWallet, payoutEmail };
  }

  const report = (trade: { id: string }, counterparty: TestUser, wechatTransferId: string) =>
    api('POST', `/v1/trades/${trade.id}/payout`, { token: counterparty.token, body: { wechatTransferId } });

  interface TimelineEvent {
    type: string;
    toState: string | null;
    actor: { kind: string; id: string | null };
    detail: Record<string, unknown>;
  }
  const timeline = async (tradeId: string, token: string): Promise<TimelineEvent[]> =>
    (await api('GET', `/v1/trades/${tradeId}/events`, { token })).body.data;

  async function disputeOf(tradeId: string, token: string) {
    const view = (await api('GET', `/v1/trades/${tradeId}`, { token })).body;
    return (await api('GET', `/v1/disputes/${view.disputeId}`, { token })).body;
  }

  it('verifies the reported transfer and completes the trade: CNY moved exactly, USD paid out less the fee', async () => {
    const { traveler, counterparty, trade, travelerWallet, counterpartyWallet, payoutEmail } = await fundedTrade();
    const transferId = await send(counterpartyWallet, travelerWallet, '1000.00');
    expect((await report(trade, counterparty, transferId)).body.state).toBe('payout_sent');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    expect(await balance(travelerWallet)).toBe('1000.00');
    expect(await balance(counterpartyWallet)).toBe('4000.00');
    const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(payout.map(({ receiver, amountCents, status }) => ({ receiver, amountCents, status }))).toEqual([
      { receiver: payoutEmail, amountCents: '13674', status: 'SUCCESS' },
    ]);
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    expect(events.filter((e: { type: string }) => e.type === 'state_changed').map((e: { toState: string }) => e.toState)).toEqual([
      'awaiting_funding',
      'funded',
      'payout_sent',
      'releasing',
      'completed',
    ]);
    expect(events.find((e: { toState: string }) => e.toState === 'releasing')).toMatchObject({
      actor: { kind: 'system', id: null },
      detail: { verified: true, wechatTransferId: transferId },
    });
    await expectClean();
  });

  it('takes a bank-funded trade through the WeChat leg to completed', async () => {
    const { traveler, counterparty, trade, travelerWallet, counterpartyWallet, payoutEmail } = await fundedTrade('bank_transfer');
    const transferId = await send(counterpartyWallet, travelerWallet, '1000.00');
    await report(trade, counterparty, transferId);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    expect(await balance(travelerWallet)).toBe('1000.00');
    const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(payout.map(({ receiver, amountCents }) => ({ receiver, amountCents }))).toEqual([
      { receiver: payoutEmail, amountCents: '13674' },
    ]);
    await expectClean();
  });

  it.each([
    ['a wrong amount', 'amount', /is for 999.99 CNY; the trade is for 1000.00 CNY/],
    ['a wrong sender', 'sender', /not sent from the counterparty's wallet/],
    ['a wrong receiver', 'receiver', /not sent to the traveler's wallet/],
  ])('disputes %s, with the finding and without anyone’s wallet id', async (_label, fault, finding) => {
    const { traveler, counterparty, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    const stranger = wechatId();
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: stranger, balanceCny: '5000.00' } });
    const transferId =
      fault === 'amount'
        ? await send(counterpartyWallet, travelerWallet, '999.99')
        : fault === 'sender'
          ? await send(stranger, travelerWallet, '1000.00')
          : await send(counterpartyWallet, stranger, '1000.00');
    await report(trade, counterparty, transferId);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'disputed');
    const dispute = await disputeOf(trade.id, traveler.token);
    expect(dispute).toMatchObject({ reason: 'verification_failed', openedBy: { kind: 'system', id: null } });
    expect(dispute.statements[0].text).toMatch(finding);
    expect(JSON.stringify(dispute)).not.toContain(travelerWallet);
    expect(JSON.stringify(dispute)).not.toContain(counterpartyWallet);
    // The timeline carries the same finding, so a party reading only the timeline sees why.
    const events = await timeline(trade.id, traveler.token);
    expect(events.find((e) => e.type === 'dispute_statement')).toMatchObject({
      actor: { kind: 'system', id: null },
      detail: { disputeId: dispute.id, finding: expect.stringMatching(finding) },
    });
    expect(JSON.stringify(events)).not.toContain(travelerWallet);
    expect(JSON.stringify(events)).not.toContain(counterpartyWallet);
    await expectClean();
  });

  it('disputes a transfer WeChat never saw once the verify deadline passes', async () => {
    const { traveler, counterparty, trade } = await fundedTrade();
    await report(trade, counterparty, `1000020260101${Date.now()}`);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'disputed', 15000);
    const dispute = await disputeOf(trade.id, traveler.token);
    expect(dispute).toMatchObject({ reason: 'verification_failed', openedBy: { kind: 'system', id: null } });
    expect(dispute.statements[0].text).toBe('WeChat has no transfer with the reported id.');
    const events = await timeline(trade.id, traveler.token);
    expect(events.find((e) => e.toState === 'disputed')).toMatchObject({
      actor: { kind: 'system', id: null },
      detail: { reason: 'verification_failed', disputeId: dispute.id },
    });
    expect(events.find((e) => e.type === 'dispute_statement')).toMatchObject({
      actor: { kind: 'system', id: null },
      detail: { disputeId: dispute.id, finding: 'WeChat has no transfer with the reported id.' },
    });
    await expectClean();
  });

  it('lets one trade claim a transfer id: the second report gets 409 wechat_transfer_used', async () => {
    const first = await fundedTrade();
    const second = await fundedTrade();
    const transferId = await send(first.counterpartyWallet, first.travelerWallet, '1000.00');
    expect((await report(first.trade, first.counterparty, transferId)).status).toBe(200);
    const again = await report(second.trade, second.counterparty, transferId);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('wechat_transfer_used');
    expect(await state(second.trade.id, second.traveler.token)).toBe('funded');
  });

  it('lets one of two trades claiming the same transfer at once have it: one 200, one 409 wechat_transfer_used', async () => {
    const [first, second] = await Promise.all([fundedTrade(), fundedTrade()]);
    const transferId = await send(first.counterpartyWallet, first.travelerWallet, '1000.00');
    const answers = await Promise.all([first, second].map((t) => report(t.trade, t.counterparty, transferId)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)!.body.code).toBe('wechat_transfer_used');
    const winner = answers[0].status === 200 ? first : second;
    const loser = winner === first ? second : first;
    expect(await state(loser.trade.id, loser.traveler.token)).toBe('funded');
    expect((await db.query(`SELECT id FROM trades WHERE wechat_transfer_id = $1`, [transferId])).rows).toEqual([{ id: winner.trade.id }]);
  });

  it('releases, not refunds, a trade whose counterparty paid but never reported, when the payout window passes', async () => {
    const { traveler, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    const transferId = await send(counterpartyWallet, travelerWallet, '1000.00');
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`))).promote();
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    expect(events.find((e: { toState: string }) => e.toState === 'releasing').detail).toEqual({
      reason: 'transfer_found_before_refund',
      wechatTransferId: transferId,
    });
    await expectClean();
  });

  it('still refunds when the last search finds nothing that matches', async () => {
    const { traveler, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    await send(counterpartyWallet, travelerWallet, '500.00'); // not the trade's amount
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`))).promote();
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 15000);
    await expectClean();
  });

  it('waits, not refunds, while a matching transfer is still processing at WeChat when the payout window passes', async () => {
    const { traveler, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    // The counterparty pays at the deadline; WeChat takes seconds to settle the transfer (long enough for the steps
    // below to see it processing on a slow machine).
    const sent = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: counterpartyWallet, toWechatId: travelerWallet, amountCny: '1000.00', processingMs: 10000 },
    });
    expect(sent.status).toBe(201);
    // As WeChat Pay's query answers the platform's merchant-signed request.
    const transferState = async () => (await test.app.get(WechatPayClient).getTransfer(sent.body.transferId))!.state;
    expect(await transferState()).toBe('PROCESSING');
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`))).promote();
    // The last search has looked, found the transfer processing, and asks again later; nothing is refunded meanwhile.
    const verification = test.app.get(QueueRegistry).get(QUEUES.verification);
    await eventually(async () =>
      (await verification.getJobs(['delayed'])).some((j) => j.id?.startsWith(`last-search-${trade.id}`) && j.attemptsMade > 0),
    );
    expect(await state(trade.id, traveler.token)).toBe('funded');
    expect(await transferState()).toBe('PROCESSING');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 25000);
    const events = await timeline(trade.id, traveler.token);
    expect(events.find((e) => e.toState === 'releasing')!.detail).toEqual({
      reason: 'transfer_found_before_refund',
      wechatTransferId: sent.body.transferId,
    });
    expect(events.some((e) => e.toState === 'refunding')).toBe(false);
    expect(await balance(travelerWallet)).toBe('1000.00');
    await expectClean();
  });

  it('never disputes for a WeChat outage: the verify deadline waits, is extended by the outage, and verification resumes', async () => {
    const { traveler, counterparty, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    const transferId = await send(counterpartyWallet, travelerWallet, '1000.00');
    await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', down: true } });
    try {
      await report(trade, counterparty, transferId);
      // WeChat stays down until past the verify deadline; the platform notices it is down.
      await eventually(async () => (await db.query(`SELECT down_since FROM provider_health WHERE provider = 'wechat'`)).rows[0].down_since);
      // The verify deadline was still running when the outage began (however slow the first call was), and runs out during it.
      await db.query(`UPDATE trades SET verify_by = now() + interval '300 milliseconds' WHERE id = $1`, [trade.id]);
      await eventually(
        async () => (await db.query(`SELECT verify_by < now() AS passed FROM trades WHERE id = $1`, [trade.id])).rows[0].passed,
      );
      expect(await state(trade.id, traveler.token)).toBe('payout_sent');
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
    }
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    const extended = events.find((e: { type: string }) => e.type === 'deadline_extended');
    expect(extended).toMatchObject({
      actor: { kind: 'system', id: null },
      detail: { deadline: 'verify', provider: 'wechat', byMs: expect.any(Number) },
    });
    expect(extended.detail.byMs).toBeGreaterThan(0);
    // The parties are told, in the extension's transaction.
    const told = await db.query(`SELECT data FROM events WHERE trade_id = $1 AND type = 'trade.deadline_extended'`, [trade.id]);
    expect(told.rows).toEqual([{ data: { trade: expect.objectContaining({ id: trade.id, state: 'payout_sent' }) } }]);
    expect(events.some((e: { toState: string }) => e.toState === 'disputed')).toBe(false);
    expect((await db.query(`SELECT down_since FROM provider_health WHERE provider = 'wechat'`)).rows[0].down_since).toBeNull();
    await expectClean();
  });

  it('releases a verified transfer only once the outage has extended its deadline, though another process ends the outage', async () => {
    const { traveler, counterparty, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    const transferId = await send(counterpartyWallet, travelerWallet, '1000.00');
    const verification = test.app.get(QueueRegistry).get(QUEUES.verification);
    await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', down: true } });
    try {
      await report(trade, counterparty, transferId);
      await eventually(async () => (await db.query(`SELECT down_since FROM provider_health WHERE provider = 'wechat'`)).rows[0].down_since);
      // Another process has claimed the outage's end and is still extending its deadlines when WeChat answers here.
      await db.query(`UPDATE provider_health SET recovering_at = now() WHERE provider = 'wechat'`);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
    }
    // WeChat answers the verification (the transfer is right), but still counts as down: nothing is decided yet.
    await eventually(async () => /recovering from an outage/.test((await verification.getJob(`verify-${trade.id}`))?.failedReason ?? ''));
    expect(await state(trade.id, traveler.token)).toBe('payout_sent');
    // That process died; the next answer takes its recovery over, extends the deadline, and only then is the trade released.
    await db.query(`UPDATE provider_health SET recovering_at = now() - interval '6 minutes' WHERE provider = 'wechat'`);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    const events = await timeline(trade.id, traveler.token);
    const extendedAt = events.findIndex((e) => e.type === 'deadline_extended');
    expect(events[extendedAt]).toMatchObject({ detail: { deadline: 'verify', provider: 'wechat' } });
    expect(extendedAt).toBeLessThan(events.findIndex((e) => e.toState === 'releasing'));
    expect(events.find((e) => e.toState === 'releasing')!.detail).toMatchObject({ verified: true, wechatTransferId: transferId });
    expect((await db.query(`SELECT down_since FROM provider_health WHERE provider = 'wechat'`)).rows[0].down_since).toBeNull();
    await expectClean();
  });

  it('holds the last search through a WeChat outage, and releases on its own once WeChat answers', async () => {
    const { traveler, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    await send(counterpartyWallet, travelerWallet, '1000.00'); // paid, never reported
    // Another trade waiting on verification keeps asking WeChat, so the outage is seen as it starts.
    const other = await fundedTrade();
    await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', down: true } });
    try {
      await report(other.trade, other.counterparty, `1000020260101${Date.now()}`);
      await eventually(async () => (await db.query(`SELECT down_since FROM provider_health WHERE provider = 'wechat'`)).rows[0].down_since);
      // The payout window was still running when the outage began, and runs out during it.
      await db.query(`UPDATE trades SET payout_by = now() + interval '300 milliseconds' WHERE id = $1`, [trade.id]);
      const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
      // The window runs out during the outage; its deadline job starts the last search, which cannot look.
      await eventually(
        async () => (await db.query(`SELECT payout_by < now() AS passed FROM trades WHERE id = $1`, [trade.id])).rows[0].passed,
      );
      await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`))).promote();
      await eventually(async () =>
        (await test.app.get(QueueRegistry).get(QUEUES.verification).getJobs(['delayed', 'active', 'waiting'])).some((j) =>
          j.id?.startsWith(`last-search-${trade.id}`),
        ),
      );
      expect(await state(trade.id, traveler.token)).toBe('funded');
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
    }
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 20000);
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    // Released by the search once WeChat answered (whether or not its own call or another's ended the outage first), never refunded.
    expect(events.find((e: { toState: string }) => e.toState === 'releasing').detail.reason).toBe('transfer_found_before_refund');
    expect(events.some((e: { toState: string }) => e.toState === 'refunding')).toBe(false);
    await expectClean();
  });

  it('releases on the notification when it lands after the report, the poll being off for that trade', async () => {
    const { traveler, counterparty, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
    const queues = test.app.get(QueueRegistry);
    const verification = queues.get(QUEUES.verification);
    const deliveries = queues.get(QUEUES.sandboxWechat);
    // WeChat notifies when the transfer succeeds, sent by the mock right after that commit: the transfer stays
    // PROCESSING (its settlement job held here) until after the report, so the notification lands after it.
    await Promise.all([verification.pause(), deliveries.pause()]);
    let transferId: string;
    try {
      const sent = await api('POST', '/sandbox/wechat/transfers', {
        body: { fromWechatId: counterpartyWallet, toWechatId: travelerWallet, amountCny: '1000.00', processingMs: 1 },
      });
      expect(sent.status).toBe(201);
      transferId = sent.body.transferId as string;
      expect((await report(trade, counterparty, transferId)).status).toBe(200);
      // The report's poll is taken away before it ever asks WeChat: only the notification can verify now.
      const poll = await eventually(async () => verification.getJob(`verify-${trade.id}`));
      await poll.remove();
    } finally {
      await Promise.all([verification.resume(), deliveries.resume()]);
    }
    await eventually(async () => ['releasing', 'completed'].includes(await state(trade.id, traveler.token)));
    const { rows } = await db.query(`SELECT event_id FROM provider_events WHERE provider = 'wechat' ORDER BY received_at DESC LIMIT 1`);
    expect(await completedJobResult(verification, `verify-${trade.id}-${rows[0].event_id}`)).toEqual({ outcome: 'releasing' });
    expect(await verification.getJob(`verify-${trade.id}`)).toBeUndefined();
    const events = await timeline(trade.id, traveler.token);
    expect(events.find((e) => e.toState === 'releasing')).toMatchObject({
      actor: { kind: 'system', id: null },
      detail: { verified: true, wechatTransferId: transferId },
    });
    await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
    await expectClean();
  });

  it('moves once whether notifications are duplicated, dropped (the poll finds it) or reordered, and refuses a forged one', async () => {
    const deliveries = test.app.get(QueueRegistry).get(QUEUES.sandboxWechat);
    const stored = async () =>
      (await db.query(`SELECT event_id FROM provider_events WHERE provider = 'wechat'`)).rows.map((r: { event_id: string }) => r.event_id);
    for (const faults of [{ duplicateWebhooks: 1 }, { dropWebhooks: 1 }, { reorderWebhooks: true, duplicateWebhooks: 1, seed: 5 }]) {
      await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', ...faults } });
      try {
        const { traveler, counterparty, trade, travelerWallet, counterpartyWallet } = await fundedTrade();
        const before = new Set(await stored());
        const transferId = await send(counterpartyWallet, travelerWallet, '1000.00');
        await report(trade, counterparty, transferId);
        await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
        const events = await timeline(trade.id, traveler.token);
        expect(events.filter((e) => e.toState === 'releasing')).toHaveLength(1);
        if (faults.dropWebhooks) {
          // Nothing reached the platform; the poll alone moved the trade.
          expect((await stored()).filter((id) => !before.has(id))).toEqual([]);
          continue;
        }
        // Both copies of the one notification were delivered (2xx) at their first attempt, and stored once. Each is
        // sent right after the transfer's commit (or when its delay is up): a copy's row is settled with no job, or
        // (the send ran out of time) its job is that first attempt (`attempt` 0) completed with the 2xx. A refusal
        // would have queued the job as attempt 1, and its refusal the next attempt.
        const [eventId] = await eventually(async () => {
          const fresh = (await stored()).filter((id) => !before.has(id));
          return fresh.length > 0 && fresh;
        });
        const copies = await eventually(async () => {
          const { rows } = await db.query(
            `SELECT job_id FROM outbox WHERE queue = 'sandbox-wechat' AND payload->'notification'->>'id' = $1 AND published_at IS NOT NULL`,
            [eventId],
          );
          return rows.length === 2 && rows.map((row: { job_id: string }) => row.job_id).sort();
        });
        expect(copies).toEqual([`wechat-notify-${eventId}-0-0`, `wechat-notify-${eventId}-1-0`]);
        for (const copy of [0, 1]) {
          const job = await deliveries.getJob(`wechat-notify-${eventId}-${copy}-0`);
          if (job) {
            expect(job.data.attempt).toBe(0);
            expect(await completedJobResult(deliveries, job.id!)).toEqual({ status: 200 });
          }
          for (const next of [1, 2]) expect(await deliveries.getJob(`wechat-notify-${eventId}-${copy}-${next}`)).toBeUndefined();
        }
        expect((await stored()).filter((id) => !before.has(id))).toEqual([eventId]);
      } finally {
        await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
      }
    }
    const forged = await api('POST', '/v1/provider-webhooks/wechat', {
      rawBody: JSON.stringify({ id: randomUUID(), event_type: 'WALLET_TRANSFER.SUCCESS', resource: {} }),
      headers: {
        'content-type': 'application/json',
        'wechatpay-timestamp': Math.floor(Date.now() / 1000).toString(),
        'wechatpay-nonce': 'N',
        'wechatpay-serial': 'UNKNOWN',
        'wechatpay-signature': 'c2ln',
      },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.code).toBe('invalid_signature');
    await expectClean();
  });
});
