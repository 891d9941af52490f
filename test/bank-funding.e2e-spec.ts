import { randomBytes, randomUUID } from 'node:crypto';
import { signPayload } from '../src/common/crypto/hmac-signature';
import { parseAmount } from '../src/common/money';
import { FieldEncryption } from '../src/common/crypto/field-encryption';
import { DEV_BANK_API_KEY, DEV_BANK_WEBHOOK_SECRET } from '../src/config';
import { PROVIDER_EVENT_CONTEXT } from '../src/payments/funding/provider-webhooks.controller';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { moneyOwedSql } from '../src/trades/money-owed';
import { createOperator, registerUser } from './support/factories';
import { completedJobResult, eventually } from './support/test-app';
import { liveCounterMismatches } from './support/invariants';
import { settling, cappedPolls, fastBank } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { bankReturns, bankTransfer } from './support/bank';
import { paypalPayoutItems } from './support/paypal';
import { newTrade, tradeState } from './support/trades';

/** The USD leg by bank transfer (the mock), end to end over HTTP with real workers. */
describe('Bank transfer funding and settlement (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    {
      ...settling,
      ...cappedPolls,
      ...fastBank,
      SETTLEMENT_FLAG_AFTER_ATTEMPTS: '2',
      PROVIDER_WORK_SWEEP_EVERY_MS: '500',
      // Within the deadline horizon (2.5 hourly sweeps), so a trade's funding deadline job is queued when it opens.
      FUNDING_WINDOW_BANK_MS: '3600000',
    },
    { reference: '7.2400', checkBooks: true },
  );

  const state = (tradeId: string, token: string) => tradeState(api, tradeId, token);

  /** A bank-transfer trade of 1000 CNY at 7.24: $138.12, fee $1.38. */
  async function bankTrade() {
    const { traveler, counterparty, trade } = await newTrade(api, { paymentMethod: 'bank_transfer' });
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(funding.status).toBe(201);
    expect(funding.body).toEqual({
      provider: 'bank_transfer',
      reference: expect.stringMatching(/^YB-[0-9A-HJKMNP-TV-Z]{10}$/),
      amountUsd: '138.12',
    });
    return { traveler, counterparty, trade, reference: funding.body.reference as string };
  }

  const send = async (reference: string, amountUsd: string, senderAccount = 'DE89370400440532013000') => {
    const sent = await api('POST', '/sandbox/bank/incoming', { body: { reference, amountUsd, senderAccount } });
    expect(sent.status).toBe(202);
    expect(sent.body).toEqual({ transferId: expect.stringMatching(/^BT[0-9A-F]{20}$/), status: 'pending' });
    return sent.body.transferId as string;
  };
  /** The returns the bank made of an incoming transfer, settled. */
  const returnsOf = async (transferId: string) =>
    (await bankReturns(api, transferId)).map((r) => ({ amountCents: parseAmount(r.amount, 'USD').toString(), status: r.status }));
  /** The platform has booked the transfer's return out of suspense (after the bank confirmed it). */
  const returnBooked = async (transferId: string) =>
    (await db.query(`SELECT 1 FROM bank_incoming_transfers WHERE transfer_id = $1 AND returned_at IS NOT NULL`, [transferId])).rowCount ===
    1;
  const suspenseBalance = async () => {
    const rows = (await db.query(`SELECT (credits_posted - debits_posted)::text AS balance FROM ledger_accounts WHERE id = 'suspense'`))
      .rows;
    return rows[0]?.balance ?? '0';
  };
  const providerEvents = async (tradeId: string, token: string) =>
    ((await api('GET', `/v1/trades/${tradeId}/events`, { token })).body.data as { type: string; detail: Record<string, unknown> }[])
      .filter((e) => e.type === 'provider_event')
      .map((e) => e.detail);

  it('takes a bank trade from its reference to completed: funded when the money settles, paid out less the fee', async () => {
    const { traveler, counterparty, trade, reference } = await bankTrade();
    const again = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.reference).toBe(reference);

    // The reference as a person types it: lower case, with a space.
    const transferId = await send(`${reference.slice(0, 6).toLowerCase()} ${reference.slice(6)}`, '138.12');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    const funded = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data.find(
      (e: { toState: string }) => e.toState === 'funded',
    );
    expect(funded.detail).toEqual({ provider: 'bank_transfer', reference, transferId });
    // The bank mock's own callback, signed with X-Signature, was taken and stored.
    const callbacks = await eventually(async () => {
      const rows = (
        await db.query(`SELECT raw_ciphertext, raw_key_id FROM provider_events WHERE provider = 'bank' AND event_type = 'transfer.settled'`)
      ).rows as { raw_ciphertext: string; raw_key_id: string }[];
      const encryption = test.app.get(FieldEncryption);
      const mine = rows
        .map((r) => JSON.parse(encryption.decrypt({ ciphertext: r.raw_ciphertext, keyId: r.raw_key_id }, PROVIDER_EVENT_CONTEXT)))
        .filter((event: { data: { id: string } }) => event.data.id === transferId);
      return mine.length > 0 && mine;
    });
    expect(callbacks).toEqual([
      expect.objectContaining({ type: 'transfer.settled', data: expect.objectContaining({ status: 'settled' }) }),
    ]);
    await expectClean();

    expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token })).body.state).toBe('releasing');
    await eventually(async () => (await state(trade.id, counterparty.token)) === 'completed', 15000);
    const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(payout.map(({ amountCents, status }) => ({ amountCents, status }))).toEqual([{ amountCents: '13674', status: 'SUCCESS' }]);
    expect(await returnsOf(transferId)).toEqual([]);
    const entries = await db.query(`SELECT kind, amount FROM ledger_transfers WHERE trade_id = $1 ORDER BY created_at, kind`, [trade.id]);
    expect(entries.rows.map((r: { kind: string }) => r.kind).sort()).toEqual(
      [
        'counterparty_payable_cleared',
        'escrow_hold',
        'escrow_hold_posted',
        'escrow_to_counterparty_payable',
        'escrow_to_fee_revenue',
        'provider_payout_fee',
      ].sort(),
    );
    await expectClean();
  });

  it('returns an underpayment and stays unfunded; the right amount then funds', async () => {
    const { traveler, trade, reference } = await bankTrade();
    const short = await send(reference, '100.00');
    await eventually(() => returnBooked(short));
    expect(await returnsOf(short)).toEqual([{ amountCents: '10000', status: 'settled' }]);
    expect(await state(trade.id, traveler.token)).toBe('awaiting_funding');
    await eventually(async () => (await providerEvents(trade.id, traveler.token)).length === 2);
    expect(await providerEvents(trade.id, traveler.token)).toEqual(
      expect.arrayContaining([
        { provider: 'bank_transfer', transferId: short, received: 'underpaid', amountUsd: '100.00', returningUsd: '100.00' },
        { provider: 'bank_transfer', transferId: short, returnedUsd: '100.00' },
      ]),
    );
    await send(reference, '138.12');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    await expectClean();
  });

  it('funds on an overpayment and returns the excess', async () => {
    const { traveler, trade, reference } = await bankTrade();
    const transferId = await send(reference, '150.00');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    await eventually(() => returnBooked(transferId));
    expect(await returnsOf(transferId)).toEqual([{ amountCents: '1188', status: 'settled' }]);
    const suspense = await db.query(
      `SELECT kind, amount FROM ledger_transfers WHERE kind LIKE 'suspense_%' AND trade_id = $1 ORDER BY kind`,
      [trade.id],
    );
    expect(suspense.rows).toEqual([
      { kind: `suspense_in:${transferId}`, amount: '1188' },
      { kind: `suspense_out:${transferId}`, amount: '1188' },
    ]);
    await expectClean();
  });

  it('holds money for a cancelled trade, or with an unknown reference, in suspense and sends it back', async () => {
    const { traveler, trade, reference } = await bankTrade();
    expect((await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token })).body.state).toBe('cancelled');
    const late = await send(reference, '138.12');
    const unknown = await send('YB-NOSUCHREF0', '42.00');
    await eventually(() => returnBooked(late));
    await eventually(() => returnBooked(unknown));
    expect(await returnsOf(late)).toEqual([{ amountCents: '13812', status: 'settled' }]);
    expect(await returnsOf(unknown)).toEqual([{ amountCents: '4200', status: 'settled' }]);
    expect(await state(trade.id, traveler.token)).toBe('cancelled');
    const decided = await db.query(
      `SELECT transfer_id, trade_id, disposition, returned_at IS NOT NULL AS returned FROM bank_incoming_transfers WHERE transfer_id = ANY($1) ORDER BY disposition`,
      [[late, unknown]],
    );
    expect(decided.rows).toEqual([
      { transfer_id: late, trade_id: trade.id, disposition: 'late', returned: true },
      { transfer_id: unknown, trade_id: null, disposition: 'unknown_reference', returned: true },
    ]);
    await eventually(async () => (await suspenseBalance()) === '0');
    await expectClean();
  });

  it('takes money whose callback was lost, to a reference no trade polls for, from the bank’s own list: suspense, sent back', async () => {
    const { traveler, trade, reference } = await bankTrade();
    expect((await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token })).body.state).toBe('cancelled');
    // Every bank callback is lost; a cancelled trade's reference and a mistyped one are polled by nobody.
    await api('PUT', '/sandbox/faults', { body: { provider: 'bank', dropWebhooks: 1 } });
    try {
      const late = await send(reference, '138.12');
      const unknown = await send('YB-LOSTCALLBK', '17.00');
      await eventually(async () => (await returnBooked(late)) && (await returnBooked(unknown)), 15000);
      const decided = await db.query(
        `SELECT transfer_id, disposition FROM bank_incoming_transfers WHERE transfer_id = ANY($1) ORDER BY disposition`,
        [[late, unknown]],
      );
      expect(decided.rows).toEqual([
        { transfer_id: late, disposition: 'late' },
        { transfer_id: unknown, disposition: 'unknown_reference' },
      ]);
      expect(await returnsOf(unknown)).toEqual([{ amountCents: '1700', status: 'settled' }]);
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'bank' } });
    }
    await eventually(async () => (await suspenseBalance()) === '0');
  });

  it('holds money for an expired trade in suspense and sends it back', async () => {
    const { traveler, trade, reference } = await bankTrade();
    await db.query(`UPDATE trades SET funding_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-funding`))).promote();
    await eventually(async () => (await state(trade.id, traveler.token)) === 'expired');
    const late = await send(reference, '138.12');
    await eventually(() => returnBooked(late));
    expect(await returnsOf(late)).toEqual([{ amountCents: '13812', status: 'settled' }]);
    const decided = await db.query(`SELECT trade_id, disposition FROM bank_incoming_transfers WHERE transfer_id = $1`, [late]);
    expect(decided.rows).toEqual([{ trade_id: trade.id, disposition: 'late' }]);
    const entries = await db.query(`SELECT kind, amount FROM ledger_transfers WHERE kind LIKE $1 ORDER BY created_at`, [
      `suspense_%:${late}`,
    ]);
    expect(entries.rows).toEqual([
      { kind: `suspense_in:${late}`, amount: '13812' },
      { kind: `suspense_out:${late}`, amount: '13812' },
    ]);
    expect(await state(trade.id, traveler.token)).toBe('expired');
  });

  it('refunds a funded bank trade whose payout window passed: the USD sent back to the sender, the refund payable cleared', async () => {
    const { traveler, trade, reference } = await bankTrade();
    const transferId = await send(reference, '138.12');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`))).promote();
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 15000);
    expect(await returnsOf(transferId)).toEqual([{ amountCents: '13812', status: 'settled' }]);
    const entries = await db.query(`SELECT kind, phase, amount FROM ledger_transfers WHERE trade_id = $1 ORDER BY kind`, [trade.id]);
    expect(entries.rows).toEqual([
      { kind: 'escrow_hold', phase: 'pending', amount: '13812' },
      { kind: 'escrow_hold_posted', phase: 'post', amount: '13812' },
      { kind: 'escrow_to_traveler_refund_payable', phase: 'single', amount: '13812' },
      { kind: 'traveler_refund_payable_cleared', phase: 'single', amount: '13812' },
    ]);
    // The settled return is watched in case the traveler's bank sends it back, for BANK_RETURN_WATCH_MS at its
    // default (ten days: the chaos suites shorten it): the watch stays open, the trade owes until it ends, unflagged.
    const watch = async () =>
      (await db.query(`SELECT status FROM settlement_steps WHERE trade_id = $1 AND step = 'watch_bank_return'`, [trade.id])).rows;
    await eventually(async () => (await watch()).length > 0);
    expect(await watch()).toEqual([{ status: 'waiting' }]);
    const owed = await db.query(`SELECT ${moneyOwedSql('t')} AS owed FROM trades t WHERE t.id = $1`, [trade.id]);
    expect(owed.rows).toEqual([{ owed: true }]);
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing).toBe(false);
    await expectClean();
  });

  it('settles an operator split of a bank trade: part returned to the sender, part paid out less its fee', async () => {
    const operator = await createOperator(test, api);
    const { traveler, counterparty, trade, reference } = await bankTrade();
    const transferId = await send(reference, '138.12');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: counterparty.token,
      body: { reason: 'other', statement: 'Only part arrived.' },
    });
    expect(opened.status).toBe(201);
    const resolved = await api('POST', `/v1/admin/disputes/${opened.body.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '38.13', counterpartyUsd: '99.99', note: 'Part arrived.' },
    });
    expect(resolved.status).toBe(200);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'settled_split', 15000);
    expect(await returnsOf(transferId)).toEqual([{ amountCents: '3813', status: 'settled' }]);
    const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
    expect(payout.map(({ amountCents, status }) => ({ amountCents, status }))).toEqual([{ amountCents: '9899', status: 'SUCCESS' }]); // $99.99 less 1% ($1.00)
    await expectClean();
  });

  it('finishes a refund whose settlement job Redis lost: the sweeper queues it again', async () => {
    const { traveler, trade, reference } = await bankTrade();
    const transferId = await send(reference, '138.12');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    await api('PUT', '/sandbox/faults', { body: { provider: 'bank', down: true } });
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    try {
      await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
      const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
      await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`))).promote();
      await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === true);
      // Redis loses the settlement job (removed between two of its attempts).
      await eventually(async () => {
        const job = await settlement.getJob(`settle-${trade.id}-refunding`);
        if (!job) return true;
        return job.remove().then(
          () => true,
          () => false,
        );
      });
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'bank' } });
    }
    expect(await state(trade.id, traveler.token)).toBe('refunding');
    await eventually(async () => (await state(trade.id, traveler.token)) === 'refunded', 15000);
    expect(await returnsOf(transferId)).toEqual([{ amountCents: '13812', status: 'settled' }]);
    const swept = await settlement.getJobs(['completed', 'active', 'delayed', 'waiting']);
    expect(swept.some((job) => job.id === `settle-${trade.id}-refunding-sweep`)).toBe(true);
    await expectClean();
  });

  it('expires a bank trade whose funding window passed with no money', async () => {
    const { traveler, trade } = await bankTrade();
    await db.query(`UPDATE trades SET funding_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-funding`))).promote();
    await eventually(async () => (await state(trade.id, traveler.token)) === 'expired');
    await expectClean();
  });

  describe('callbacks at POST /v1/provider-webhooks/bank', () => {
    /** A real settled transfer's event, as the bank would send it. */
    async function settledEvent(reference: string, amountUsd: string) {
      const transferId = await send(reference, amountUsd);
      await eventually(async () => (await bankTransfer(api, transferId)).status === 'settled');
      const event = {
        id: `evt_test_${transferId}`,
        type: 'transfer.settled',
        created: new Date().toISOString(),
        data: { id: transferId, direction: 'incoming', reference, amount: amountUsd, currency: 'USD', status: 'settled' },
      };
      return { transferId, raw: JSON.stringify(event) };
    }
    const deliver = (raw: string, signature?: string) =>
      api('POST', '/v1/provider-webhooks/bank', {
        rawBody: raw,
        headers: { 'content-type': 'application/json', ...(signature ? { 'x-signature': signature } : {}) },
      });

    it('refuses forged, unsigned and stale callbacks with 401 and stores nothing', async () => {
      const raw = JSON.stringify({ id: 'evt_forged_1', type: 'transfer.settled', data: { id: 'BT00000000000000000000' } });
      const attempts = [
        await deliver(raw),
        await deliver(raw, signPayload('not-the-secret', raw)),
        await deliver(raw, signPayload(DEV_BANK_WEBHOOK_SECRET, raw, Date.now() - 6 * 60 * 1000)),
        await deliver(raw.replace('evt_forged_1', 'evt_forged_2'), signPayload(DEV_BANK_WEBHOOK_SECRET, raw)),
      ];
      for (const response of attempts) {
        expect(response.status).toBe(401);
        expect(response.body.code).toBe('invalid_signature');
      }
      const stored = await db.query(`SELECT 1 FROM provider_events WHERE provider = 'bank' AND event_id LIKE 'evt_forged_%'`);
      expect(stored.rowCount).toBe(0);
    });

    it('takes the same callback five times: 200 each time, one state change', async () => {
      const { traveler, trade, reference } = await bankTrade();
      // The bank's own callbacks are held back, so these five are the only news of the transfer.
      await api('PUT', '/sandbox/faults', { body: { provider: 'bank', dropWebhooks: 1 } });
      try {
        const { raw } = await settledEvent(reference, '138.12');
        const answers = [];
        for (let i = 0; i < 5; i += 1) answers.push(await deliver(raw, signPayload(DEV_BANK_WEBHOOK_SECRET, raw)));
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
        expect(answers.map((a) => a.body.duplicate)).toEqual([false, true, true, true, true]);
        await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
      } finally {
        await api('PUT', '/sandbox/faults', { body: { provider: 'bank' } });
      }
      const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
      expect(events.filter((e: { toState: string }) => e.toState === 'funded')).toHaveLength(1);
      await expectClean();
    });

    it('takes the same callback five times at once: one not a duplicate, one event stored, one job', async () => {
      const { traveler, trade, reference } = await bankTrade();
      await api('PUT', '/sandbox/faults', { body: { provider: 'bank', dropWebhooks: 1 } });
      try {
        const { transferId, raw } = await settledEvent(reference, '138.12');
        const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(raw, signPayload(DEV_BANK_WEBHOOK_SECRET, raw))));
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
        expect(answers.map((a) => a.body.duplicate).sort()).toEqual([false, true, true, true, true]);
        const eventId = `evt_test_${transferId}`;
        const stored = await db.query(`SELECT count(*)::int AS n FROM provider_events WHERE provider = 'bank' AND event_id = $1`, [
          eventId,
        ]);
        expect(stored.rows[0].n).toBe(1);
        const jobs = await db.query(`SELECT count(*)::int AS n FROM outbox WHERE job_id = $1`, [`bank-incoming-${transferId}-${eventId}`]);
        expect(jobs.rows[0].n).toBe(1);
        await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
      } finally {
        await api('PUT', '/sandbox/faults', { body: { provider: 'bank' } });
      }
      await expectClean();
    });

    it('lets a late or reordered callback change nothing: the transfer was decided once', async () => {
      const { traveler, trade, reference } = await bankTrade();
      const { transferId, raw } = await settledEvent(reference, '138.12');
      await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      await eventually(async () => (await state(trade.id, traveler.token)) === 'completed', 15000);
      // The same transfer's news again, under a new event id, long after: stored, and nothing moves.
      const late = raw.replace(`evt_test_${transferId}`, `evt_late_${transferId}`);
      const answer = await deliver(late, signPayload(DEV_BANK_WEBHOOK_SECRET, late));
      expect(answer.status).toBe(200);
      expect(answer.body.duplicate).toBe(false);
      expect(
        await completedJobResult(test.app.get(QueueRegistry).get(QUEUES.funding), `bank-incoming-${transferId}-evt_late_${transferId}`),
      ).toEqual({ outcome: 'already' });
      expect(await state(trade.id, traveler.token)).toBe('completed');
      const decided = await db.query(`SELECT disposition FROM bank_incoming_transfers WHERE transfer_id = $1`, [transferId]);
      expect(decided.rows).toEqual([{ disposition: 'funded' }]);
      expect(await returnsOf(transferId)).toEqual([]);
      await expectClean();
    });
  });

  it("books back a bank refund the traveler's bank sent back, flags it, and sends it again on an operator retry", async () => {
    const operator = await createOperator(test, api);
    const account = `ACCT-${Date.now()}`;
    const { traveler, trade, reference } = await bankTrade();
    const transferId = await send(reference, '138.12', account);
    await eventually(async () => (await state(trade.id, traveler.token)) === 'funded');
    // The traveler's account closes before the refund reaches it: the return settles, then bounces.
    expect((await api('PUT', `/sandbox/bank/accounts/${account}`, { body: { closed: true } })).body).toEqual({ account, closed: true });
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await (await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`))).promote();
    await eventually(
      async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === true,
      15000,
    );
    expect(await state(trade.id, traveler.token)).toBe('refunded');
    expect(await returnsOf(transferId)).toEqual([{ amountCents: '13812', status: 'returned' }]);
    const owed = async () =>
      (
        await db.query(`SELECT (credits_posted - debits_posted)::text AS owed FROM ledger_accounts WHERE id = $1`, [
          `traveler_refund_payable:${trade.id}`,
        ])
      ).rows[0].owed;
    expect(await owed()).toBe('13812');
    await expectClean();

    // A retry while the account is still closed comes back too: still owed, still flagged, and retried again.
    expect((await api('POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: operator.token })).status).toBe(200);
    await eventually(
      async () => (await providerEvents(trade.id, traveler.token)).some((e) => e.refund === 'returned' && e.attempt === 2),
      15000,
    );
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing).toBe(true);
    expect(await owed()).toBe('13812');

    // The account is open again; the operator sends the refund once more.
    await api('PUT', `/sandbox/bank/accounts/${account}`, { body: { closed: false } });
    expect((await api('POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: operator.token })).status).toBe(200);
    await eventually(
      async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.settlementFailing === false,
      15000,
    );
    expect(await returnsOf(transferId)).toEqual([
      { amountCents: '13812', status: 'returned' },
      { amountCents: '13812', status: 'returned' },
      { amountCents: '13812', status: 'settled' },
    ]);
    expect(await owed()).toBe('0');
    expect(await state(trade.id, traveler.token)).toBe('refunded');
    await expectClean();
  });

  it('holds suspense that bounced back on its way to the sender', async () => {
    const account = `ACCT-B-${Date.now()}`;
    await api('PUT', `/sandbox/bank/accounts/${account}`, { body: { closed: true } });
    const transferId = await send('YB-UNKNOWN0001', '12.34', account);
    await eventually(
      async () =>
        (await db.query(`SELECT 1 FROM bank_incoming_transfers WHERE transfer_id = $1 AND bounced_at IS NOT NULL`, [transferId]))
          .rowCount === 1,
      15000,
    );
    const entries = await db.query(`SELECT kind, amount FROM ledger_transfers WHERE kind LIKE $1 ORDER BY created_at`, [
      `suspense_%:${transferId}`,
    ]);
    expect(entries.rows).toEqual([
      { kind: `suspense_in:${transferId}`, amount: '1234' },
      { kind: `suspense_out:${transferId}`, amount: '1234' },
      { kind: `suspense_bounced:${transferId}`, amount: '1234' },
    ]);
    await expectClean();
  });

  describe("the bank API's returns under one Idempotency-Key", () => {
    /** A settled incoming transfer at the bank that the platform never heard of: only the mock's own row. */
    const settledAtBank = async (cents: number) => {
      const id = `BT${randomBytes(10).toString('hex').toUpperCase()}`;
      await db.query(
        `INSERT INTO bank_mock_transfers (id, direction, reference, amount_cents, sender_account, status, settled_at)
         VALUES ($1, 'incoming', 'TEST-ONLY', $2, 'DE89370400440532013000', 'settled', now())`,
        [id, cents],
      );
      return id;
    };
    const bankReturn = (transferId: string, amount: string, key: string) =>
      api('POST', '/sandbox/bank/v1/returns', {
        body: { transferId, amount },
        headers: { authorization: `Bearer ${DEV_BANK_API_KEY}`, 'idempotency-key': key },
      });

    it('makes one return for identical concurrent returns, every caller getting it', async () => {
      const transferId = await settledAtBank(5000);
      const key = randomUUID();
      const answers = await Promise.all(Array.from({ length: 6 }, () => bankReturn(transferId, '10.00', key)));
      for (const answer of answers) expect({ status: answer.status, body: answer.body }).toEqual({ status: 201, body: answers[0].body });
      expect(await returnsOf(transferId)).toHaveLength(1);
    });

    it('refuses a key used at the same time for a return of another transfer with 422, never a 500', async () => {
      for (let round = 0; round < 5; round += 1) {
        const [a, b] = [await settledAtBank(5000), await settledAtBank(5000)];
        const key = randomUUID();
        const answers = await Promise.all([bankReturn(a, '10.00', key), bankReturn(b, '10.00', key)]);
        expect(answers.map((answer) => answer.status).sort()).toEqual([201, 422]);
        expect((await returnsOf(a)).length + (await returnsOf(b)).length).toBe(1);
      }
    });
  });

  it('answers the sandbox and the bank API with problem details for bad input', async () => {
    const bad = await api('POST', '/sandbox/bank/incoming', { body: { reference: 'YB-X', amountUsd: 12 } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
    const unauthenticated = await api('GET', '/sandbox/bank/v1/transfers?reference=YB-X');
    expect(unauthenticated.status).toBe(401);
    const someone = await registerUser(api, 'traveler');
    const notYours = await api('GET', '/sandbox/bank/v1/transfers?reference=YB-X', { token: someone.token });
    expect(notYours.status).toBe(401);
  });

  it("keeps every party's live-trade counter equal to a count of their live trades", async () => {
    const trades = await db.query(`SELECT count(*)::int AS n FROM trades`);
    expect(trades.rows[0].n).toBeGreaterThan(0);
    expect(await liveCounterMismatches(db)).toEqual([]);
  });
});
