import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DEV_BLIND_INDEX_KEY } from '../src/config/crypto.config';
import { TradesRepository } from '../src/trades/trades.repository';
import { SelfTradeWatch } from '../src/users/self-trade-watch';
import { createOperator, registerUser, TestUser } from './support/factories';
import { client, Api } from './support/http';
import { fixed, readyCounterparty, readyTraveler, setReference, wechatId, withWallet } from './support/market';
import { paypalTrade } from './support/paypal-trades';
import { deleteRedisKeys, dropDatabase, eventually, startTestApp, TestApp } from './support/test-app';

/**
 * Guessing another user's WeChat wallet through the self-trade check: the attacker sets a guessed wallet and
 * asks for a trade with the victim; `self_trade` used to answer before the limits, so a large request or offer
 * told a right guess from a wrong one with no trade written. Now `self_trade` is answered only when the trade
 * would otherwise be made, handles cannot change while their owner has live commitments, changes are limited,
 * recorded, and repeated refusals are flagged for operators. A refused probe runs the same statements and writes
 * nothing whether or not it matched; a match is recorded whatever the answer, without the answer waiting for it,
 * and never shown to the prober (not in their export).
 */
describe('payment handles and the self-trade oracle (HTTP)', () => {
  let test: TestApp;
  let api: Api;
  let db: Client;
  let operator: TestUser;
  let rotated: TestApp | undefined;
  const settings = {
    RATE_FEED_WALK_BPS: '0',
    REFERENCE_RATE_REFRESH_EVERY_MS: '3600000',
    SELF_TRADE_FLAG_AFTER: '3',
    PROVIDER_POLL_EVERY_MS: '200',
    PROVIDER_POLL_MAX_EVERY_MS: '1000',
    OUTBOX_POLL_INTERVAL_MS: '50',
  };

  beforeAll(async () => {
    test = await startTestApp(settings);
    api = client(test.baseUrl);
    db = new Client({ connectionString: test.databaseUrl });
    await db.connect();
    operator = await createOperator(test, api);
    await setReference(test, '7.2400');
  });

  afterAll(async () => {
    await db?.end();
    if (!rotated) return test?.close();
    // The first instance was stopped for the restart: only the second is closed, then the shared data dropped.
    await rotated.close();
    await dropDatabase(test.databaseUrl);
    await deleteRedisKeys(test.queuePrefix);
  });

  const setWallet = (user: TestUser, id: string) => api('PUT', '/v1/me/wechat-wallet', { token: user.token, body: { wechatId: id } });
  const setPayout = (user: TestUser, email: string) =>
    api('PUT', '/v1/me/payout-account', { token: user.token, body: { method: 'paypal', paypalEmail: email } });
  const postRequest = async (traveler: TestUser, amountCny: string) => {
    const response = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny, minFillCny: '100.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
    });
    if (response.status !== 201) throw new Error(`request: ${response.text}`);
    return response.body as { id: string };
  };
  /** A traveler's open request of 1000 CNY, and a counterparty who gave the traveler's wallet as its own. */
  async function probedRequest(travelerName: string, proberName: string) {
    const wallet = wechatId();
    const traveler = await withWallet(api, await registerUser(api, 'traveler', travelerName), wallet);
    const request = await postRequest(traveler, '1000.00');
    const prober = await readyCounterparty(api, proberName);
    expect((await setWallet(prober, wallet)).status).toBe(200);
    return { wallet, request, prober };
  }
  const postOffer = async (counterparty: TestUser) => {
    const response = await api('POST', '/v1/offers', {
      token: counterparty.token,
      body: { minCny: '100', maxCny: '20000', totalCny: '20000', price: fixed('7.2400'), paymentMethods: ['bank_transfer'] },
    });
    if (response.status !== 201) throw new Error(`offer: ${response.text}`);
    return response.body as { id: string };
  };
  const accept = (counterparty: TestUser, requestId: string, amountCny?: string) =>
    api('POST', `/v1/requests/${requestId}/accept`, { token: counterparty.token, body: amountCny ? { amountCny } : {} });
  const take = (traveler: TestUser, offerId: string, amountCny: string) =>
    api('POST', `/v1/offers/${offerId}/take`, { token: traveler.token, body: { amountCny, paymentMethod: 'bank_transfer' } });
  const tradesOf = async (userId: string) =>
    (await db.query(`SELECT count(*)::int AS n FROM trades WHERE traveler_id = $1 OR counterparty_id = $1`, [userId])).rows[0].n;
  const adminView = async (user: TestUser) => (await api('GET', `/v1/admin/users/${user.id}`, { token: operator.token })).body;
  const refusalsOf = async (user: TestUser) => (await adminView(user)).selfTradeRefusals.total as number;
  const answer = (response: { status: number; body: { code?: string; party?: string } }) =>
    `${response.status} ${response.body.code}${response.body.party ? ` ${response.body.party}` : ''}`;

  it('a counterparty guessing the traveler’s wallet by accepting a large request gets the limit either way', async () => {
    const victimWallet = wechatId();
    const traveler = await withWallet(api, await registerUser(api, 'traveler', 'victim'), victimWallet);
    // 10,000 CNY at 7.24 is $1,381.22: past tier 0's $1,000 a day.
    const request = await postRequest(traveler, '10000.00');
    const attacker = await readyCounterparty(api, 'guesser');

    const wrongGuess = await accept(attacker, request.id);
    expect(answer(wrongGuess)).toBe('409 daily_limit_exceeded caller');
    expect((await setWallet(attacker, victimWallet.toUpperCase())).status).toBe(200);
    const rightGuess = await accept(attacker, request.id);
    // Before the fix: 409 self_trade, the wallet found.
    expect(answer(rightGuess)).toBe(answer(wrongGuess));
    expect(rightGuess.body.detail).toBe(wrongGuess.body.detail);
    expect(await tradesOf(attacker.id)).toBe(0);
    // Operators hear of the matching probe though the limit answered it; the wrong guess is nothing to them.
    await eventually(async () => (await refusalsOf(attacker)) === 1);

    // A trade the limits allow is refused as a self-trade: the answer a real trade would give away anyway.
    const small = await accept(attacker, request.id, '1000.00');
    expect(answer(small)).toBe('409 self_trade');
    expect(await tradesOf(attacker.id)).toBe(0);
    await eventually(async () => (await refusalsOf(attacker)) === 2);
  });

  it('a traveler guessing a counterparty’s wallet by taking an offer gets the caller’s or the maker’s limit either way', async () => {
    const victimWallet = wechatId();
    const maker = await readyCounterparty(api, 'offer-victim');
    expect((await setWallet(maker, victimWallet)).status).toBe(200);
    const offer = await postOffer(maker);
    const attacker = await readyTraveler(api, 'taker-guesser');

    // The caller's limit: 8,000 CNY is $1,104.97.
    const wrongGuess = await take(attacker, offer.id, '8000.00');
    expect(answer(wrongGuess)).toBe('409 daily_limit_exceeded caller');
    expect((await setWallet(attacker, victimWallet)).status).toBe(200);
    expect(answer(await take(attacker, offer.id, '8000.00'))).toBe(answer(wrongGuess));

    // The maker's limit: the attacker at tier 2, the maker still at tier 0.
    expect((await api('PUT', `/v1/admin/users/${attacker.id}/tier`, { token: operator.token, body: { tier: 2 } })).status).toBe(200);
    expect(answer(await take(attacker, offer.id, '8000.00'))).toBe('409 daily_limit_exceeded maker');
    expect(await tradesOf(attacker.id)).toBe(0);

    // Two matching probes so far, each refused by a limit: recorded, not yet flagged.
    await eventually(async () => (await refusalsOf(attacker)) === 2);
    expect((await adminView(attacker)).flags).toEqual([]);

    const small = await take(attacker, offer.id, '500.00');
    expect(answer(small)).toBe('409 self_trade');
    const view = await eventually(async () => {
      const seen = await adminView(attacker);
      return seen.flags.length === 1 && seen;
    });
    expect(view.selfTradeRefusals).toMatchObject({ total: 3, withinWindow: 3 });
    expect(view.flags).toEqual([{ flag: 'self_trade_probing', at: expect.any(String) }]);
  });

  it('a probe refused by a limit runs the same statements and writes nothing, whether or not the guess matched', async () => {
    const victimWallet = wechatId();
    const traveler = await withWallet(api, await registerUser(api, 'traveler', 'same-work-victim'), victimWallet);
    const request = await postRequest(traveler, '10000.00');
    const attacker = await readyCounterparty(api, 'same-work-guesser');
    const repository = test.app.get(TradesRepository);
    const watched = (['lockParties', 'usageOf', 'openTrade'] as const).map((name) => ({ name, spy: jest.spyOn(repository, name) }));
    const sequences = async () =>
      (
        await db.query(
          `SELECT (SELECT last_value FROM trade_events_id_seq) AS events, (SELECT last_value FROM outbox_id_seq) AS outbox,
                  (SELECT count(*)::int FROM trades) AS trades`,
        )
      ).rows[0];
    const probe = async () => {
      for (const { spy } of watched) spy.mockClear();
      const before = await sequences();
      const response = await accept(attacker, request.id);
      return {
        answer: answer(response),
        detail: response.body.detail,
        // What the refused attempt asked the database for, by repository method, and what it used up or wrote.
        calls: watched.map(({ name, spy }) => `${name}:${spy.mock.calls.length}`),
        wrote: JSON.stringify(await sequences()) !== JSON.stringify(before),
      };
    };
    try {
      const wrongGuess = await probe();
      expect((await setWallet(attacker, victimWallet)).status).toBe(200);
      const rightGuess = await probe();
      expect(wrongGuess.answer).toBe('409 daily_limit_exceeded caller');
      // Before: the wrong guess opened the trade (a timeline event's id used up) and rolled it back, the right one only read.
      expect(wrongGuess.wrote).toBe(false);
      expect(rightGuess).toEqual(wrongGuess);
      expect(rightGuess.calls).toEqual(['lockParties:1', 'usageOf:1', 'openTrade:0']);
    } finally {
      for (const { spy } of watched) spy.mockRestore();
    }
  });

  it('the answer to a matching probe never waits for its record, nor fails with it', async () => {
    const { wallet, request, prober } = await probedRequest('record-victim', 'record-prober');
    const watch = test.app.get(SelfTradeWatch);
    const record = watch.recordRefusal.bind(watch);
    const spy = jest.spyOn(watch, 'recordRefusal');
    let release = () => {};
    try {
      // The record held back: the answer comes all the same (bounded, so an answer that waits fails, not hangs).
      const held = new Promise<void>((resolve) => (release = resolve));
      spy.mockImplementationOnce((...args) => held.then(() => record(...args)));
      const answered = await Promise.race([
        accept(prober, request.id),
        new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 5000)),
      ]);
      expect(answered === 'waited' ? answered : answer(answered)).toBe('409 self_trade');
      expect(await refusalsOf(prober)).toBe(0);
      release();
      await eventually(async () => (await refusalsOf(prober)) === 1);

      // The record failing: the same answer, and the failure logged (without the wallet).
      spy.mockImplementationOnce(() => Promise.reject(new Error('account_events unavailable')));
      expect(answer(await accept(prober, request.id))).toBe('409 self_trade');
      await eventually(async () => test.readLog().includes('A self-trade refusal could not be recorded'));
      expect(test.readLog()).not.toContain(wallet);
    } finally {
      release();
      spy.mockRestore();
    }
  });

  it('records a self-trade found at funding (the PayPal payer is the counterparty’s payout account) as the counterparty’s refusal', async () => {
    const { traveler, counterparty, payoutEmail, trade } = await paypalTrade(api, '100.00');
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    expect(funding.status).toBe(201);
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: payoutEmail } });
    await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state === 'cancelled', 15000);
    const requestId = (await db.query(`SELECT request_id FROM trades WHERE id = $1`, [trade.id])).rows[0].request_id;
    // Before: cancelled, and nothing recorded for operators.
    expect((await adminView(counterparty)).selfTradeRefusals).toMatchObject({ total: 1, withinWindow: 1 });
    expect(
      (
        await db.query(`SELECT target_type, target_id FROM account_events WHERE user_id = $1 AND kind = 'self_trade_refused'`, [
          counterparty.id,
        ])
      ).rows,
    ).toEqual([{ target_type: 'request', target_id: requestId }]);
    expect(await refusalsOf(traveler)).toBe(0);
  });

  it('locks handles while their owner has an open request, an offer not closed or a live trade', async () => {
    // A traveler with an open request.
    const traveler = await readyTraveler(api, 'locked-traveler');
    const request = await postRequest(traveler, '1000.00');
    const locked = await setWallet(traveler, wechatId());
    expect(answer(locked)).toBe('409 wallet_locked');
    expect(locked.text).not.toMatch(/wx_/);
    expect((await api('POST', `/v1/requests/${request.id}/cancel`, { token: traveler.token })).status).toBe(200);
    expect((await setWallet(traveler, wechatId())).status).toBe(200);

    // A counterparty with a paused offer: both handles locked until it is closed; the same value again is no change.
    const wallet = wechatId();
    const payoutEmail = `locked-${Date.now()}@example.com`;
    const maker = await withWallet(api, await registerUser(api, 'counterparty', 'locked-maker'), wallet);
    expect((await setPayout(maker, payoutEmail)).status).toBe(200);
    const offer = await postOffer(maker);
    expect((await api('POST', `/v1/offers/${offer.id}/pause`, { token: maker.token })).status).toBe(200);
    expect(answer(await setWallet(maker, wechatId()))).toBe('409 wallet_locked');
    expect(answer(await setPayout(maker, `other-${Date.now()}@example.com`))).toBe('409 wallet_locked');
    expect((await setWallet(maker, wallet)).status).toBe(200);
    expect((await setPayout(maker, payoutEmail.toUpperCase())).status).toBe(200);
    expect((await api('POST', `/v1/offers/${offer.id}/close`, { token: maker.token })).status).toBe(200);
    expect((await setPayout(maker, `other-${Date.now()}@example.com`)).status).toBe(200);

    // The guesser whose wrong guess made a trade: stuck with that guess until the trade ends.
    const victim = await readyTraveler(api, 'locked-victim');
    const victimRequest = await postRequest(victim, '1000.00');
    const guesser = await readyCounterparty(api, 'locked-guesser');
    expect((await setWallet(guesser, wechatId())).status).toBe(200);
    const trade = await accept(guesser, victimRequest.id);
    expect(trade.status).toBe(201);
    expect(answer(await setWallet(guesser, wechatId()))).toBe('409 wallet_locked');
    expect(answer(await setPayout(guesser, `guesser-${Date.now()}@example.com`))).toBe('409 wallet_locked');
    expect((await api('POST', `/v1/trades/${trade.body.id}/cancel`, { token: guesser.token })).status).toBe(200);
    expect((await setWallet(guesser, wechatId())).status).toBe(200);
    // Only the changes that happened are recorded: the refused ones and the same value again are not.
    expect((await adminView(maker)).handleChanges.map((c: { field: string }) => c.field)).toEqual([
      'payoutAccount',
      'payoutAccount',
      'wechatWallet',
    ]);
  });

  it('limits changes per day (429 with Retry-After) and records each, without the value', async () => {
    const user = await registerUser(api, 'counterparty', 'changer');
    const wallets = [1, 2, 3, 4, 5].map(() => wechatId());
    for (const id of wallets) expect((await setWallet(user, id)).status).toBe(200);

    const refused = await setWallet(user, wechatId());
    expect(answer(refused)).toBe('429 rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(23 * 3600);
    expect(retryAfter).toBeLessThanOrEqual(24 * 3600);
    // One budget for both handles.
    expect(answer(await setPayout(user, `changer-${Date.now()}@example.com`))).toBe('429 rate_limited');
    // The value on file again is no change.
    expect((await setWallet(user, wallets[4])).status).toBe(200);

    const view = await adminView(user);
    expect(view.handleChanges).toHaveLength(5);
    for (const change of view.handleChanges) {
      expect(change).toEqual({ field: 'wechatWallet', at: expect.any(String), ip: expect.stringMatching(/127\.0\.0\.1/) });
    }
    const rows = (await db.query(`SELECT row_to_json(e)::text AS j FROM account_events e WHERE user_id = $1`, [user.id])).rows;
    expect(rows).toHaveLength(5);
    const index = (await db.query(`SELECT wechat_id_index FROM users WHERE id = $1`, [user.id])).rows[0].wechat_id_index;
    const dump = rows.map((r) => r.j).join('\n');
    for (const id of wallets) expect(dump.toLowerCase()).not.toContain(id.toLowerCase());
    expect(dump).not.toContain(index);
  });

  it('flags a user for operators after repeated self-trade refusals', async () => {
    const { request, prober } = await probedRequest('flag-victim', 'prober');

    for (let i = 0; i < 3; i += 1) expect(answer(await accept(prober, request.id))).toBe('409 self_trade');
    // Recorded after the answers: waited for here, as an operator would see them a moment later.
    const view = await eventually(async () => {
      const seen = await adminView(prober);
      return seen.selfTradeRefusals.total === 3 && seen;
    });
    expect(view.selfTradeRefusals).toMatchObject({ total: 3, withinWindow: 3, lastAt: expect.any(String) });
    expect(view.flags).toEqual([{ flag: 'self_trade_probing', at: expect.any(String) }]);
    // Flagged once, in the audit log as the system's entry.
    expect(answer(await accept(prober, request.id))).toBe('409 self_trade');
    await eventually(async () => (await refusalsOf(prober)) === 4);
    const audit = await api('GET', '/v1/admin/audit?limit=100', { token: operator.token });
    const flags = audit.body.data.filter(
      (e: { action: string; targetId: string }) => e.action === 'user.flagged' && e.targetId === prober.id,
    );
    expect(flags).toEqual([
      expect.objectContaining({ operatorId: null, targetType: 'user', detail: expect.objectContaining({ reason: 'self_trade_refusals' }) }),
    ]);
    const refusals = await db.query(
      `SELECT target_type, target_id FROM account_events WHERE user_id = $1 AND kind = 'self_trade_refused'`,
      [prober.id],
    );
    expect(refusals.rows).toEqual(Array(4).fill({ target_type: 'request', target_id: request.id }));

    // The prober's own export: their handle change, never the refusals or the flag (which would confirm the guess).
    const exported = await api('GET', '/v1/me/export', { token: prober.token });
    expect(exported.status).toBe(200);
    expect(new Set(exported.body.securityEvents.map((e: { kind: string }) => e.kind))).toEqual(new Set(['handle_changed']));
    expect(exported.text).not.toMatch(/self_trade|flagged/);
  });

  it('refuses a suspended user’s handle changes (403 account_suspended)', async () => {
    const counterparty = await readyCounterparty(api, 'suspended-payee');
    expect((await api('POST', `/v1/admin/users/${counterparty.id}/suspend`, { token: operator.token })).status).toBe(200);
    expect(answer(await setPayout(counterparty, `attacker-${Date.now()}@example.com`))).toBe('403 account_suspended');
    expect(answer(await setWallet(counterparty, wechatId()))).toBe('403 account_suspended');
    expect((await adminView(counterparty)).handleChanges).toHaveLength(2);
  });

  it('never lets a change slip past an accept racing it: a handle changed means no trade was live when it changed', async () => {
    const traveler = await readyTraveler(api, 'race-traveler');
    for (let round = 0; round < 6; round += 1) {
      const request = await postRequest(traveler, '500.00');
      const counterparty = await readyCounterparty(api, `race-${round}`);
      const [trade, change] = await Promise.all([accept(counterparty, request.id), setWallet(counterparty, wechatId())]);
      expect(trade.status).toBe(201);
      expect([200, 409]).toContain(change.status);
      const row = (
        await db.query(
          `SELECT t.counterparty_wechat_index = u.wechat_id_index AS same FROM trades t JOIN users u ON u.id = t.counterparty_id WHERE t.id = $1`,
          [trade.body.id],
        )
      ).rows[0];
      // Changed first (the trade took the new wallet) or refused (the trade came first): never changed under a live trade.
      expect(row.same).toBe(true);
      if (change.status === 409) expect(change.body.code).toBe('wallet_locked');
      await api('POST', `/v1/trades/${trade.body.id}/cancel`, { token: traveler.token });
    }
  });

  // Last: it restarts the service with a second blind index key active, as a rotation does.
  it('the same value again mid-rotation (another blind index key active) is no change: not counted, not locked', async () => {
    const wallet = wechatId();
    // Set under the old key, then locked by an open request.
    const traveler = await withWallet(api, await registerUser(api, 'traveler', 'rotation-same'), wallet);
    await postRequest(traveler, '500.00');
    const idleWallet = wechatId();
    const idle = await withWallet(api, await registerUser(api, 'counterparty', 'rotation-idle'), idleWallet);

    await test.app.close();
    rotated = await startTestApp(
      {
        ...settings,
        BLIND_INDEX_KEY: DEV_BLIND_INDEX_KEY,
        BLIND_INDEX_KEYS: `b2:${randomBytes(32).toString('base64')}`,
        BLIND_INDEX_ACTIVE_KEY_ID: 'b2',
      },
      test,
    );
    api = client(rotated.baseUrl);
    // Before: compared under the new key, it differed: 409 wallet_locked.
    expect((await setWallet(traveler, wallet.toUpperCase())).status).toBe(200);
    // Unlocked, again and again past the day's budget: still nothing changed or counted.
    for (let i = 0; i < 6; i += 1) expect((await setWallet(idle, idleWallet)).status).toBe(200);
    expect((await adminView(idle)).handleChanges).toHaveLength(1);
    const stored = (await db.query(`SELECT wechat_id_index FROM users WHERE id = $1`, [idle.id])).rows[0].wechat_id_index;
    expect(stored).not.toMatch(/^b2:/);
  });
});
