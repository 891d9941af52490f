import { RatesService } from '../src/rates/rates.service';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { registerUser, TestUser } from './support/factories';
import { fixed, floating, readyCounterparty, readyTraveler, readyUsers, setReference, wechatId, withWallet } from './support/market';
import { eventually } from './support/test-app';
import { liveCounterMismatches } from './support/invariants';
import { quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

describe('trades (HTTP)', () => {
  const { test, api, db, operator } = useTestApp(
    {
      ...quietRates,
      // PayPal trades expire fast here; bank-transfer trades stay open for the tests that need them.
      FUNDING_WINDOW_PAYPAL_MS: '400',
      FUNDING_WINDOW_BANK_MS: '3600000',
      DEADLINE_SWEEP_EVERY_MS: '3600000',
    },
    { reference: '7.2400', operator: true },
  );

  const postRequest = async (traveler: TestUser, body: Record<string, unknown>) => {
    const response = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { paymentMethod: 'bank_transfer', price: fixed('7.2400'), ...body },
    });
    if (response.status !== 201) throw new Error(`request: ${response.text}`);
    return response.body;
  };
  const postOffer = async (maker: TestUser, body: Record<string, unknown>) => {
    const response = await api('POST', '/v1/offers', {
      token: maker.token,
      body: { price: fixed('7.2400'), paymentMethods: ['paypal', 'bank_transfer'], ...body },
    });
    if (response.status !== 201) throw new Error(`offer: ${response.text}`);
    return response.body;
  };
  const setTier = (user: TestUser, tier: number) =>
    api('PUT', `/v1/admin/users/${user.id}/tier`, { token: operator.token, body: { tier } });

  it('accepts a request in part, then all that remains; a third accept finds nothing', async () => {
    const traveler = await readyTraveler(api);
    const request = await postRequest(traveler, { amountCny: '2000.00', minFillCny: '500.00' });
    const first = await readyCounterparty(api, 'first');
    const second = await readyCounterparty(api, 'second');

    expect((await api('POST', `/v1/requests/${request.id}/accept`, { token: first.token, body: { amountCny: '499.99' } })).body.code).toBe(
      'below_min_fill',
    );
    const part = await api('POST', `/v1/requests/${request.id}/accept`, { token: first.token, body: { amountCny: '500' } });
    expect(part.status).toBe(201);
    expect(part.body).toMatchObject({
      state: 'awaiting_funding',
      requestId: request.id,
      offerId: null,
      travelerId: traveler.id,
      counterpartyId: first.id,
      amountCny: '500.00',
      amountUsd: '69.06', // 500 / 7.24 = 69.0607…
      rate: '7.2400',
      feeUsd: '0.69', // 1% of 69.06, half-up
      netUsd: '68.37', // what the counterparty receives: 69.06 − 0.69
      paymentMethod: 'bank_transfer',
      disputeId: null,
      settlementFailing: false,
      deadlines: { fundingBy: expect.any(String) },
    });
    expect(part.body).not.toHaveProperty('travelerWechatId');
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body).toMatchObject({
      remainingCny: '1500.00',
      status: 'open',
    });

    const rest = await api('POST', `/v1/requests/${request.id}/accept`, { token: second.token, body: {} });
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amountCny: '1500.00', amountUsd: '207.18' });
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body).toMatchObject({
      remainingCny: '0.00',
      status: 'filled',
    });

    // Each counterparty still reads the request they traded on, now filled (API.md: any user reads a request), with
    // nothing more than any user sees: no payment handle.
    for (const user of [first, second, await registerUser(api, 'traveler')]) {
      const read = await api('GET', `/v1/requests/${request.id}`, { token: user.token });
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id: request.id, status: 'filled', remainingCny: '0.00', travelerId: traveler.id });
      expect(JSON.stringify(read.body)).not.toMatch(/wechat|paypal|email/i);
    }

    const third = await api('POST', `/v1/requests/${request.id}/accept`, { token: first.token, body: {} });
    expect(third.status).toBe(409);
    expect(third.body.code).toBe('insufficient_amount');
  });

  it('shows netUsd, what the counterparty receives, wherever a trade is shown; nothing once it ends unpaid', async () => {
    const traveler = await readyTraveler(api);
    const request = await postRequest(traveler, { amountCny: '1000.00' });
    const cp = await readyCounterparty(api);
    const trade = (await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: {} })).body;
    expect(trade).toMatchObject({ amountUsd: '138.12', feeUsd: '1.38', netUsd: '136.74' });
    for (const user of [traveler, cp]) {
      expect((await api('GET', `/v1/trades/${trade.id}`, { token: user.token })).body.netUsd).toBe('136.74');
      const listed = (await api('GET', '/v1/trades?limit=100', { token: user.token })).body.data;
      expect(listed.find((t: { id: string }) => t.id === trade.id).netUsd).toBe('136.74');
    }
    const admin = (await api('GET', '/v1/admin/trades?limit=100', { token: operator.token })).body.data;
    expect(admin.find((t: { id: string }) => t.id === trade.id).netUsd).toBe('136.74');
    // Events carry the trade as GET /v1/trades/:id shows it.
    const created = await db.query(`SELECT data FROM events WHERE trade_id = $1 AND type = 'trade.created'`, [trade.id]);
    expect(created.rows[0].data.trade.netUsd).toBe('136.74');
    const export_ = (await api('GET', '/v1/me/export', { token: cp.token })).body;
    expect(export_.trades.find((t: { id: string }) => t.id === trade.id).netUsd).toBe('136.74');

    const cancelled = await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token });
    expect(cancelled.body).toMatchObject({ state: 'cancelled', amountUsd: '138.12', netUsd: '0.00' });
  });

  it('lets a remainder smaller than the minimum fill be taken whole', async () => {
    const traveler = await readyTraveler(api);
    const request = await postRequest(traveler, { amountCny: '700.00', minFillCny: '500.00' });
    const cp = await readyCounterparty(api);
    expect((await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: { amountCny: '500.00' } })).status).toBe(201);
    const other = await readyCounterparty(api);
    expect((await api('POST', `/v1/requests/${request.id}/accept`, { token: other.token, body: { amountCny: '100.00' } })).body.code).toBe(
      'below_min_fill',
    );
    expect((await api('POST', `/v1/requests/${request.id}/accept`, { token: other.token, body: { amountCny: '200.00' } })).status).toBe(
      201,
    );
  });

  it('takes an offer within its range until it is exhausted', async () => {
    const maker = await readyCounterparty(api, 'maker');
    const offer = await postOffer(maker, { minCny: '100', maxCny: '1000', totalCny: '1500', paymentMethods: ['bank_transfer'] });
    const traveler = await readyTraveler(api);
    const take = (body: Record<string, unknown>) =>
      api('POST', `/v1/offers/${offer.id}/take`, { token: traveler.token, body: { paymentMethod: 'bank_transfer', ...body } });

    expect((await take({ amountCny: '50.00' })).body.code).toBe('amount_out_of_range');
    expect((await take({ amountCny: '1000.01' })).body.code).toBe('amount_out_of_range');
    const wrongMethod = await take({ amountCny: '100.00', paymentMethod: 'paypal' });
    expect(wrongMethod.status).toBe(400);
    expect(wrongMethod.body.errors[0].field).toBe('paymentMethod');

    const taken = await take({ amountCny: '1000.00' });
    expect(taken.status).toBe(201);
    expect(taken.body).toMatchObject({
      offerId: offer.id,
      requestId: null,
      travelerId: traveler.id,
      counterpartyId: maker.id,
      amountUsd: '138.12',
    });
    expect((await take({ amountCny: '600.00' })).body.code).toBe('insufficient_amount');
    expect((await take({ amountCny: '500.00' })).status).toBe(201);
    const after = await api('GET', `/v1/offers/${offer.id}`, { token: traveler.token });
    expect(after.body).toMatchObject({ availableCny: '0.00', status: 'exhausted' });
    expect((await take({ amountCny: '100.00' })).body.code).toBe('insufficient_amount');
  });

  it('refuses trades with the contract codes', async () => {
    const traveler = await readyTraveler(api);
    const cp = await readyCounterparty(api);

    // Roles.
    const request = await postRequest(traveler, { amountCny: '100.00' });
    expect((await api('POST', `/v1/requests/${request.id}/accept`, { token: traveler.token, body: {} })).body.code).toBe('forbidden');
    const offer = await postOffer(cp, { minCny: '100', maxCny: '100', totalCny: '1000' });
    expect(
      (await api('POST', `/v1/offers/${offer.id}/take`, { token: cp.token, body: { amountCny: '100', paymentMethod: 'paypal' } })).body
        .code,
    ).toBe('forbidden');
    expect((await api('POST', '/v1/requests/00000000-0000-4000-8000-000000000000/accept', { token: cp.token, body: {} })).status).toBe(404);

    // A shared WeChat wallet is a self-trade, found through the blind index.
    const shared = wechatId();
    const t2 = await withWallet(api, await registerUser(api, 'traveler'), shared);
    const c2 = await readyCounterparty(api);
    await api('PUT', '/v1/me/wechat-wallet', { token: c2.token, body: { wechatId: shared.toUpperCase() } });
    const selfRequest = await postRequest(t2, { amountCny: '100.00' });
    expect((await api('POST', `/v1/requests/${selfRequest.id}/accept`, { token: c2.token, body: {} })).body.code).toBe('self_trade');

    // Payment details: the counterparty needs a payout account.
    const noPayout = await withWallet(api, await registerUser(api, 'counterparty'));
    const missing = await api('POST', `/v1/requests/${request.id}/accept`, { token: noPayout.token, body: {} });
    expect(missing.status).toBe(409);
    expect(missing.body.code).toBe('missing_payment_details');

    // The maker suspended; the caller suspended.
    const t3 = await readyTraveler(api);
    const suspendedRequest = await postRequest(t3, { amountCny: '100.00' });
    await api('POST', `/v1/admin/users/${t3.id}/suspend`, { token: operator.token });
    expect((await api('POST', `/v1/requests/${suspendedRequest.id}/accept`, { token: cp.token, body: {} })).body.code).toBe(
      'maker_suspended',
    );
    const c3 = await readyCounterparty(api);
    await api('POST', `/v1/admin/users/${c3.id}/suspend`, { token: operator.token });
    expect((await api('POST', `/v1/requests/${request.id}/accept`, { token: c3.token, body: {} })).body.code).toBe('account_suspended');

    // States.
    const paused = await postOffer(cp, { minCny: '100', maxCny: '100', totalCny: '1000' });
    await api('POST', `/v1/offers/${paused.id}/pause`, { token: cp.token });
    expect(
      (await api('POST', `/v1/offers/${paused.id}/take`, { token: traveler.token, body: { amountCny: '100', paymentMethod: 'paypal' } }))
        .body.code,
    ).toBe('invalid_state_transition');
    const cancelled = await postRequest(traveler, { amountCny: '100.00' });
    await api('POST', `/v1/requests/${cancelled.id}/cancel`, { token: traveler.token });
    expect((await api('POST', `/v1/requests/${cancelled.id}/accept`, { token: cp.token, body: {} })).body.code).toBe(
      'invalid_state_transition',
    );

    // The rate guard applies again at trade time: the reference moved away from a fixed price.
    const edge = await postRequest(traveler, { amountCny: '100.00', price: fixed('7.6000') });
    await setReference(test, '7.2000');
    try {
      expect((await api('POST', `/v1/requests/${edge.id}/accept`, { token: cp.token, body: {} })).body.code).toBe('rate_out_of_bounds');
      // A stale reference refuses every trade.
      await db.query(`UPDATE reference_rates SET as_of = as_of - interval '1 hour'`);
      // Behind the service's back: the service would otherwise go on with the reference it read a moment ago.
      test.app.get(RatesService).forget();
      const stale = await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: {} });
      expect(stale.status).toBe(503);
      expect(stale.body.code).toBe('reference_rate_stale');
    } finally {
      await setReference(test, '7.2400');
    }

    // Nothing was reserved by any refusal.
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body.remainingCny).toBe('100.00');
  });

  it('holds each party to its tier limits, and says whose limit stopped the trade', async () => {
    const traveler = await readyTraveler(api);
    const big = await postRequest(traveler, { amountCny: '8000.00' }); // $1,104.97 > tier 0's $1,000
    const cp = await readyCounterparty(api);
    await setTier(cp, 2);
    const byMaker = await api('POST', `/v1/requests/${big.id}/accept`, { token: cp.token, body: {} });
    expect(byMaker.status).toBe(409);
    expect(byMaker.body).toMatchObject({ code: 'daily_limit_exceeded', party: 'maker' });
    await setTier(traveler, 1);
    await setTier(cp, 0);
    const byCaller = await api('POST', `/v1/requests/${big.id}/accept`, { token: cp.token, body: {} });
    expect(byCaller.body).toMatchObject({ code: 'daily_limit_exceeded', party: 'caller' });

    // Tier 0 allows 5 open trades.
    const small = await postRequest(traveler, { amountCny: '600.00', minFillCny: '100.00' });
    for (let i = 0; i < 5; i += 1)
      expect((await api('POST', `/v1/requests/${small.id}/accept`, { token: cp.token, body: { amountCny: '100.00' } })).status).toBe(201);
    const sixth = await api('POST', `/v1/requests/${small.id}/accept`, { token: cp.token, body: { amountCny: '100.00' } });
    expect(sixth.body).toMatchObject({ code: 'open_trades_limit', party: 'caller' });
  });

  it('shows trades to their parties only, with a timeline that begins with the creation', async () => {
    const walletId = wechatId();
    const traveler = await withWallet(api, await registerUser(api, 'traveler'), walletId);
    const cp = await readyCounterparty(api);
    const request = await postRequest(traveler, { amountCny: '100.00' });
    const trade = (await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: {} })).body;

    for (const user of [traveler, cp, operator])
      expect((await api('GET', `/v1/trades/${trade.id}`, { token: user.token })).status).toBe(200);
    const stranger = await readyCounterparty(api);
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: stranger.token })).status).toBe(404);
    expect((await api('GET', `/v1/trades/${trade.id}/events`, { token: stranger.token })).status).toBe(404);

    const mine = await api('GET', '/v1/trades', { token: cp.token });
    expect(mine.body.data.map((t: { id: string }) => t.id)).toEqual([trade.id]);
    expect((await api('GET', '/v1/trades?state=cancelled', { token: cp.token })).body.data).toEqual([]);

    const events = await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token });
    expect(events.body).toEqual({
      data: [
        {
          at: expect.any(String),
          actor: { kind: 'counterparty', id: cp.id },
          type: 'state_changed',
          fromState: null,
          toState: 'awaiting_funding',
          detail: expect.objectContaining({ requestId: request.id, rate: '7.2400' }),
        },
      ],
      nextCursor: null,
    });
    // No payment handle anywhere in what the parties read.
    const everything = JSON.stringify([trade, mine.body, events.body]);
    expect(everything).not.toMatch(/wx_/i);
    // The snapshot in the trade row is the ciphertext, never the id itself.
    const row = await db.query(`SELECT row_to_json(t)::text AS j FROM trades t WHERE id = $1`, [trade.id]);
    expect(row.rows[0].j).toContain('traveler_wechat_ciphertext');
    expect(row.rows[0].j.toLowerCase()).not.toContain(walletId.toLowerCase());
  });

  it('pages through a party’s trades newest first, each once, when several were made within one millisecond', async () => {
    const traveler = await readyTraveler(api);
    const request = await postRequest(traveler, { amountCny: '500.00', minFillCny: '100.00' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const cp = await readyCounterparty(api);
      ids.push((await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: { amountCny: '100' } })).body.id);
    }
    // Microseconds apart inside one millisecond, and two at the very same instant (then the id decides).
    const instants = ['.123900', '.123500', '.123500', '.123100', '.122999'];
    for (const [i, id] of ids.entries())
      await db.query(`UPDATE trades SET created_at = $2::timestamptz WHERE id = $1`, [id, `2026-01-02T03:04:05${instants[i]}Z`]);
    const expected = [...ids.entries()]
      .sort(([a, x], [b, y]) => instants[b].localeCompare(instants[a]) || y.localeCompare(x))
      .map(([, id]) => id);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page += 1) {
      const response: { status: number; body: { data: { id: string }[]; nextCursor: string | null } } = await api(
        'GET',
        `/v1/trades?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { token: traveler.token },
      );
      expect(response.status).toBe(200);
      seen.push(...response.body.data.map((t) => t.id));
      cursor = response.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(expected);
  });

  it('cancels in awaiting_funding, returning the amount and the volume, and reopens what was filled', async () => {
    const traveler = await readyTraveler(api);
    const cp = await readyCounterparty(api);
    const request = await postRequest(traveler, { amountCny: '300.00' });
    const trade = (await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: {} })).body;
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body.status).toBe('filled');
    const volume = async (userId: string) =>
      (await db.query(`SELECT coalesce(sum(usd_cents), 0)::int AS c FROM user_daily_volume WHERE user_id = $1`, [userId])).rows[0].c;
    expect(await volume(traveler.id)).toBe(4144); // 300 / 7.24 = 41.436… → $41.44

    const cancelled = await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body).toMatchObject({
      status: 'open',
      remainingCny: '300.00',
    });
    expect(await volume(traveler.id)).toBe(0);
    expect(await volume(cp.id)).toBe(0);
    const reputation = await db.query(`SELECT failed_trades FROM user_reputation WHERE user_id = $1`, [traveler.id]);
    expect(reputation.rows[0].failed_trades).toBe(1);

    const again = await api('POST', `/v1/trades/${trade.id}/cancel`, { token: cp.token });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'invalid_state_transition', detail: expect.stringContaining('cancelled') });
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: cp.token })).body.data;
    expect(events.map((e: { toState: string }) => e.toState)).toEqual(['awaiting_funding', 'cancelled']);
    expect(events[1].actor).toEqual({ kind: 'traveler', id: traveler.id });

    // An exhausted offer comes back to active when a cancelled trade returns its amount.
    const offer = await postOffer(cp, { minCny: '100', maxCny: '100', totalCny: '100' });
    const taken = (
      await api('POST', `/v1/offers/${offer.id}/take`, {
        token: traveler.token,
        body: { amountCny: '100', paymentMethod: 'bank_transfer' },
      })
    ).body;
    expect((await api('GET', `/v1/offers/${offer.id}`, { token: cp.token })).body.status).toBe('exhausted');
    await api('POST', `/v1/trades/${taken.id}/cancel`, { token: cp.token });
    expect((await api('GET', `/v1/offers/${offer.id}`, { token: cp.token })).body).toMatchObject({
      status: 'active',
      availableCny: '100.00',
    });
  });

  it('expires an unfunded trade by its deadline job, returning the amount', async () => {
    const traveler = await readyTraveler(api);
    const cp = await readyCounterparty(api);
    const request = await postRequest(traveler, { amountCny: '100.00', paymentMethod: 'paypal' });
    const trade = (await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: {} })).body;
    const queue = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await eventually(async () => (await queue.getJob(`deadline-${trade.id}-funding`))?.returnvalue?.expired === true);
    const expired = await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token });
    expect(expired.body.state).toBe('expired');
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body).toMatchObject({
      status: 'open',
      remainingCny: '100.00',
    });
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    expect(events[1]).toMatchObject({
      actor: { kind: 'system', id: null },
      fromState: 'awaiting_funding',
      toState: 'expired',
      detail: { reason: 'funding_window_passed' },
    });
  });

  it('expires an unfunded trade by the sweeper when its job was lost', async () => {
    const traveler = await readyTraveler(api);
    const cp = await readyCounterparty(api);
    const request = await postRequest(traveler, { amountCny: '100.00', paymentMethod: 'paypal' });
    // Redis lost the job: published (its mark lands up to a second later, after the 400 ms window), then gone. The
    // queue is paused until the job is taken away, so it cannot run first however slow the machine.
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    await deadlines.pause();
    let tradeId: string;
    try {
      tradeId = (await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: {} })).body.id;
      await eventually(async () => (await deadlines.getJob(`deadline-${tradeId}-funding`)) !== undefined);
      expect(await deadlines.remove(`deadline-${tradeId}-funding`)).toBe(1);
    } finally {
      await deadlines.resume();
    }
    await eventually(
      async () =>
        (await db.query(`SELECT 1 FROM outbox WHERE job_id = $1 AND published_at IS NOT NULL`, [`deadline-${tradeId}-funding`])).rowCount,
    );
    await eventually(
      async () => Date.now() > Date.parse((await api('GET', `/v1/trades/${tradeId}`, { token: cp.token })).body.deadlines.fundingBy),
    );
    expect((await api('GET', `/v1/trades/${tradeId}`, { token: cp.token })).body.state).toBe('awaiting_funding');
    const queue = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    expect(await queue.getJob(`deadline-${tradeId}-funding`)).toBeUndefined();
    const sweep = await queue.add(JOBS.deadlines.sweepDeadlines, {});
    await eventually(async () => (await queue.getJob(sweep.id!))?.finishedOn);
    expect((await api('GET', `/v1/trades/${tradeId}`, { token: cp.token })).body.state).toBe('expired');
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body.remainingCny).toBe('100.00');
  });

  it('trades exactly the open amount of a request when 50 counterparties accept at once', async () => {
    const traveler = await readyTraveler(api, 'race-traveler');
    await setTier(traveler, 2);
    const request = await postRequest(traveler, { amountCny: '2000.00', minFillCny: '100.00' });
    const counterparties = await readyUsers(50, (i) => readyCounterparty(api, `racer${i}`));
    const responses = await Promise.all(
      counterparties.map((cp) => api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: { amountCny: '100.00' } })),
    );
    const created = responses.filter((r) => r.status === 201);
    const refused = responses.filter((r) => r.status !== 201);
    expect(created).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const r of refused) expect({ status: r.status, code: r.body.code }).toEqual({ status: 409, code: 'insufficient_amount' });
    const sums = await db.query(`SELECT sum(amount_cny)::bigint AS traded, count(*)::int AS n FROM trades WHERE request_id = $1`, [
      request.id,
    ]);
    expect(sums.rows[0]).toEqual({ traded: '200000', n: 20 });
    const reserved = await db.query(
      `SELECT sum(amount_cny)::bigint AS s FROM trade_reservations WHERE request_id = $1 AND returned_at IS NULL`,
      [request.id],
    );
    expect(reserved.rows[0].s).toBe('200000');
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body).toMatchObject({
      remainingCny: '0.00',
      status: 'filled',
    });
  });

  it('trades exactly the available amount of an offer when 50 travelers take it at once', async () => {
    const maker = await readyCounterparty(api, 'race-maker');
    await setTier(maker, 2);
    const offer = await postOffer(maker, { minCny: '100', maxCny: '100', totalCny: '2000', paymentMethods: ['bank_transfer'] });
    const travelers = await readyUsers(50, (i) => readyTraveler(api, `taker${i}`));
    const responses = await Promise.all(
      travelers.map((t) =>
        api('POST', `/v1/offers/${offer.id}/take`, { token: t.token, body: { amountCny: '100.00', paymentMethod: 'bank_transfer' } }),
      ),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(20);
    for (const r of responses.filter((r) => r.status !== 201))
      expect({ status: r.status, code: r.body.code }).toEqual({ status: 409, code: 'insufficient_amount' });
    const sums = await db.query(`SELECT sum(amount_cny)::bigint AS traded FROM trades WHERE offer_id = $1`, [offer.id]);
    expect(sums.rows[0].traded).toBe('200000');
    expect((await api('GET', `/v1/offers/${offer.id}`, { token: maker.token })).body).toMatchObject({
      availableCny: '0.00',
      status: 'exhausted',
    });
  });

  /**
   * Every trade a race opened stands whole: its reservation, its timeline's first event, its funding deadline's
   * outbox row, and its `trade.created` event, whose data is the trade as its parties read it.
   */
  const expectOpenedWhole = async (trades: { id: string }[], reader: TestUser) => {
    for (const trade of trades) {
      const rows = await db.query(
        `SELECT (SELECT count(*)::int FROM trade_reservations WHERE trade_id = $1) AS reservations,
                (SELECT count(*)::int FROM trade_events WHERE trade_id = $1 AND from_state IS NULL AND to_state = 'awaiting_funding') AS firsts,
                (SELECT count(*)::int FROM outbox WHERE job_id = 'deadline-' || $1 || '-funding') AS deadlines,
                (SELECT count(*)::int FROM outbox o JOIN events e ON o.job_id = 'fan-out-' || e.id WHERE e.trade_id = $1) AS fan_outs,
                (SELECT data FROM events WHERE trade_id = $1 AND type = 'trade.created') AS created`,
        [trade.id],
      );
      const view = (await api('GET', `/v1/trades/${trade.id}`, { token: reader.token })).body;
      expect(rows.rows[0]).toEqual({ reservations: 1, firsts: 1, deadlines: 1, fan_outs: 1, created: { trade: view } });
    }
  };

  it('reserves exactly what a request holds when accepts of every kind race, each refusal with its contract code', async () => {
    const traveler = await readyTraveler(api, 'mixed-race-traveler');
    await setTier(traveler, 2);
    const request = await postRequest(traveler, { amountCny: '2000.00', minFillCny: '100.00' });
    // What each racer asks (null: all that remains), and the answers the contract allows it.
    const insufficient = { status: 409, code: 'insufficient_amount' };
    const asks: [string | null, { status: number; code: string }[]][] = [
      ...Array.from({ length: 10 }, (): [string, (typeof insufficient)[]] => ['100.00', [insufficient]]),
      ...Array.from({ length: 10 }, (): [string, (typeof insufficient)[]] => ['250.00', [insufficient]]),
      ...Array.from({ length: 5 }, (): [null, (typeof insufficient)[]] => [null, [insufficient]]),
      // Below the minimum fill, unless it is exactly what remains.
      ...Array.from({ length: 5 }, (): [string, (typeof insufficient)[]] => [
        '50.00',
        [insufficient, { status: 400, code: 'below_min_fill' }],
      ]),
      ...Array.from({ length: 5 }, (): [string, (typeof insufficient)[]] => ['3000.00', [insufficient]]),
    ];
    const racers = await readyUsers(asks.length, (i) => readyCounterparty(api, `mixed${i}`));
    const responses = await Promise.all(
      racers.map((racer, i) =>
        api('POST', `/v1/requests/${request.id}/accept`, {
          token: racer.token,
          // Half of them under an Idempotency-Key, whose claim the opening statement marks.
          headers: i % 2 === 0 ? { 'idempotency-key': `mixed-race-${i}` } : undefined,
          body: asks[i][0] === null ? {} : { amountCny: asks[i][0] },
        }),
      ),
    );
    const opened = responses.flatMap((r, i) => (r.status === 201 ? [{ trade: r.body, asked: asks[i][0] }] : []));
    responses.forEach((r, i) => {
      if (r.status !== 201) expect(asks[i][1]).toContainEqual({ status: r.status, code: r.body.code });
    });
    for (const { trade, asked } of opened) if (asked !== null) expect(trade.amountCny).toBe(asked);
    // An accept of all that remains always finds something or finds the request filled: so it ends filled.
    const traded = await db.query(`SELECT coalesce(sum(amount_cny), 0)::bigint AS s FROM trades WHERE request_id = $1`, [request.id]);
    const reserved = await db.query(`SELECT coalesce(sum(amount_cny), 0)::bigint AS s FROM trade_reservations WHERE request_id = $1`, [
      request.id,
    ]);
    expect({ traded: traded.rows[0].s, reserved: reserved.rows[0].s, trades: opened.length }).toEqual({
      traded: '200000',
      reserved: '200000',
      trades: (await db.query(`SELECT count(*)::int AS n FROM trades WHERE request_id = $1`, [request.id])).rows[0].n,
    });
    expect((await api('GET', `/v1/requests/${request.id}`, { token: traveler.token })).body).toMatchObject({
      remainingCny: '0.00',
      status: 'filled',
    });
    await expectOpenedWhole(
      opened.map((o) => o.trade),
      traveler,
    );
    // A replay answers the first response and opens nothing more.
    const first = responses.findIndex((r, i) => r.status === 201 && i % 2 === 0);
    if (first !== -1) {
      const replay = await api('POST', `/v1/requests/${request.id}/accept`, {
        token: racers[first].token,
        headers: { 'idempotency-key': `mixed-race-${first}` },
        body: asks[first][0] === null ? {} : { amountCny: asks[first][0] },
      });
      expect({ status: replay.status, id: replay.body.id, replayed: replay.headers.get('idempotent-replayed') }).toEqual({
        status: 201,
        id: responses[first].body.id,
        replayed: 'true',
      });
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM trades WHERE request_id = $1`, [request.id])).rows[0].n).toBe(opened.length);
    expect(await liveCounterMismatches(db)).toEqual([]);
  });

  it('reserves exactly what an offer holds when takes of every kind race, each refusal with its contract code', async () => {
    const maker = await readyCounterparty(api, 'mixed-race-maker');
    await setTier(maker, 2);
    const offer = await postOffer(maker, { minCny: '100', maxCny: '500', totalCny: '2000', paymentMethods: ['bank_transfer'] });
    const insufficient = { status: 409, code: 'insufficient_amount' };
    const outOfRange = { status: 400, code: 'amount_out_of_range' };
    const asks: [string, string, { status: number; code: string }[]][] = [
      ...Array.from({ length: 8 }, (): [string, string, (typeof insufficient)[]] => ['100.00', 'bank_transfer', [insufficient]]),
      ...Array.from({ length: 8 }, (): [string, string, (typeof insufficient)[]] => ['300.00', 'bank_transfer', [insufficient]]),
      ...Array.from({ length: 8 }, (): [string, string, (typeof insufficient)[]] => ['500.00', 'bank_transfer', [insufficient]]),
      ...Array.from({ length: 3 }, (): [string, string, (typeof insufficient)[]] => ['600.00', 'bank_transfer', [outOfRange]]),
      ...Array.from({ length: 3 }, (): [string, string, (typeof insufficient)[]] => [
        '100.00',
        'paypal',
        [{ status: 400, code: 'validation_failed' }],
      ]),
    ];
    const travelers = await readyUsers(asks.length, (i) => readyTraveler(api, `mixed-taker${i}`));
    const responses = await Promise.all(
      travelers.map((t, i) =>
        api('POST', `/v1/offers/${offer.id}/take`, {
          token: t.token,
          headers: i % 2 === 0 ? { 'idempotency-key': `mixed-take-${i}` } : undefined,
          body: { amountCny: asks[i][0], paymentMethod: asks[i][1] },
        }),
      ),
    );
    responses.forEach((r, i) => {
      if (r.status === 201)
        expect({ amountCny: r.body.amountCny, offerId: r.body.offerId }).toEqual({ amountCny: asks[i][0], offerId: offer.id });
      else expect(asks[i][2]).toContainEqual({ status: r.status, code: r.body.code });
    });
    const opened = responses.filter((r) => r.status === 201).map((r) => r.body);
    expect(opened.length).toBeGreaterThan(0);
    const traded = opened.reduce((sum, t) => sum + Math.round(Number(t.amountCny) * 100), 0);
    const reserved = await db.query(`SELECT coalesce(sum(amount_cny), 0)::bigint AS s FROM trade_reservations WHERE offer_id = $1`, [
      offer.id,
    ]);
    expect(reserved.rows[0].s).toBe(String(traded));
    const after = (await api('GET', `/v1/offers/${offer.id}`, { token: maker.token })).body;
    const available = 200000 - traded;
    expect(after).toMatchObject({ availableCny: (available / 100).toFixed(2), status: available < 10000 ? 'exhausted' : 'active' });
    // No take that asked for no more than was left when every take had answered was refused for want of it.
    for (const [i, r] of responses.entries())
      if (r.body.code === 'insufficient_amount') expect(Math.round(Number(asks[i][0]) * 100)).toBeGreaterThan(available);
    await expectOpenedWhole(opened, maker);
    expect(await liveCounterMismatches(db)).toEqual([]);
  });

  it('holds a party to its limits when it trades on many sources at once', async () => {
    // One traveler takes 12 different offers at once: each take locks its own offer, so only the party's
    // row orders them, and each must count the trades the takes before it made.
    const traveler = await readyTraveler(api, 'many-sources');
    const makers = await Promise.all(Array.from({ length: 12 }, (_, i) => readyCounterparty(api, `source${i}`)));
    const offers = await Promise.all(makers.map((maker) => postOffer(maker, { minCny: '100', maxCny: '100', totalCny: '100' })));
    const takeAllAtOnce = (from: { id: string }[]) =>
      Promise.all(
        from.map((offer) =>
          api('POST', `/v1/offers/${offer.id}/take`, {
            token: traveler.token,
            body: { amountCny: '100.00', paymentMethod: 'bank_transfer' },
          }),
        ),
      );
    const takes = await takeAllAtOnce(offers);
    // Tier 0 allows 5 open trades.
    expect(takes.filter((r) => r.status === 201)).toHaveLength(5);
    for (const r of takes.filter((r) => r.status !== 201))
      expect({ status: r.status, code: r.body.code, party: r.body.party }).toEqual({
        status: 409,
        code: 'open_trades_limit',
        party: 'caller',
      });
    const live = await db.query(`SELECT count(*)::int AS n FROM trades WHERE traveler_id = $1`, [traveler.id]);
    expect(live.rows[0].n).toBe(5);
    // The refused takes changed nothing: their offers are whole, and only the five trades count in the day's volume.
    const untouched = await db.query(
      `SELECT count(*)::int AS n FROM offers WHERE id = ANY($1::uuid[]) AND available_cny = 10000 AND status = 'active'`,
      [offers.map((o) => o.id)],
    );
    expect(untouched.rows[0].n).toBe(7);
    const volume = await db.query(`SELECT coalesce(sum(usd_cents), 0)::bigint AS cents FROM user_daily_volume WHERE user_id = $1`, [
      traveler.id,
    ]);
    const traded = await db.query(`SELECT sum(amount_usd)::bigint AS cents FROM trades WHERE traveler_id = $1`, [traveler.id]);
    expect(volume.rows[0].cents).toBe(traded.rows[0].cents);

    // The live-trade counter follows the trades that end: two cancelled make room for two more, and no more.
    const liveCounter = async (userId: string) =>
      (await db.query(`SELECT coalesce((SELECT live FROM user_live_trades WHERE user_id = $1), 0) AS n`, [userId])).rows[0].n;
    expect(await liveCounter(traveler.id)).toBe(5);
    const opened = takes.filter((r) => r.status === 201).map((r) => r.body);
    for (const trade of opened.slice(0, 2))
      expect((await api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token })).status).toBe(200);
    expect(await liveCounter(traveler.id)).toBe(3);
    expect(await liveCounter(opened[0].counterpartyId)).toBe(0);
    expect(await liveCounter(opened[2].counterpartyId)).toBe(1);
    const refusedOffers = offers.filter((o) => !opened.some((t) => t.offerId === o.id));
    const again = await takeAllAtOnce(refusedOffers);
    expect(again.filter((r) => r.status === 201)).toHaveLength(2);
    expect(await liveCounter(traveler.id)).toBe(5);
    const counted = await db.query(
      `SELECT count(*)::int AS n FROM trades WHERE traveler_id = $1 AND state IN ('awaiting_funding', 'funded', 'payout_sent', 'releasing', 'refunding', 'disputed', 'splitting')`,
      [traveler.id],
    );
    expect(counted.rows[0].n).toBe(5);
  });

  it('floating prices lock the effective rate at creation', async () => {
    const traveler = await readyTraveler(api);
    const cp = await readyCounterparty(api);
    const request = await postRequest(traveler, { amountCny: '1000.00', price: floating(-150) });
    const trade = (await api('POST', `/v1/requests/${request.id}/accept`, { token: cp.token, body: {} })).body;
    expect(trade.rate).toBe('7.1314');
    expect(trade.amountUsd).toBe('140.22'); // 1000 / 7.1314 = 140.2249…
    await setReference(test, '7.3000');
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: cp.token })).body.rate).toBe('7.1314');
    await setReference(test, '7.2400');
  });

  it("keeps every party's live-trade counter equal to a count of their live trades", async () => {
    const trades = await db.query(`SELECT count(*)::int AS n FROM trades`);
    expect(trades.rows[0].n).toBeGreaterThan(0);
    expect(await liveCounterMismatches(db)).toEqual([]);
  });
});
