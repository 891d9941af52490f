import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createOperator, registerUser, TestUser } from './support/factories';
import { fixed, wechatId, withWallet } from './support/market';
import { eventually } from './support/test-app';
import { settling } from './support/settings';
import { useTestApp } from './support/use-test-app';

/**
 * The account export (`GET /v1/me/export`) and deletion (`DELETE /v1/me`), through HTTP with real workers settling
 * a disputed PayPal trade at the mock. The counterparty Dora is exported, refused deletion while her trade is live
 * or money of it is watched, then deleted; the traveler Omar is the other party whose view must stay intact.
 */
describe('Account export and deletion (HTTP)', () => {
  const { test, api, db } = useTestApp(
    {
      ...settling,
    },
    { reference: '7.2400' },
  );
  let operator: TestUser;

  // Dora: a counterparty with an API key, an offer Omar takes, and the dispute of that trade.
  const doraName = `dora${randomBytes(4).toString('hex')}`;
  const doraWechat = wechatId();
  const doraPaypal = `dora-payout-${randomUUID().slice(0, 8)}@example.com`;
  const doraStatement = `Dora here: reach me on +1 555 0100, flat 4B ${randomUUID()}`;
  let dora: TestUser;
  let doraKey: string;
  let offerId: string;
  // Omar: a traveler with an open request of his own.
  const omarWechat = wechatId();
  const omarPayer = `omar-payer-${randomUUID().slice(0, 8)}@example.com`;
  let omar: TestUser;
  let requestId: string;
  let tradeId: string;
  let disputeId: string;

  beforeAll(async () => {
    operator = await createOperator(test, api);

    dora = await withWallet(api, await registerUser(api, 'counterparty', doraName), doraWechat);
    expect(
      (await api('PUT', '/v1/me/payout-account', { token: dora.token, body: { method: 'paypal', paypalEmail: doraPaypal } })).status,
    ).toBe(200);
    const key = await api('POST', '/v1/me/api-keys', { token: dora.token, body: { name: 'dora bot' } });
    expect(key.status).toBe(201);
    doraKey = key.body.key;
    const offer = await api('POST', '/v1/offers', {
      token: dora.token,
      body: { minCny: '100.00', maxCny: '2000.00', totalCny: '5000.00', price: fixed('7.2400'), paymentMethods: ['paypal'] },
    });
    expect(offer.status).toBe(201);
    offerId = offer.body.id;

    omar = await withWallet(api, await registerUser(api, 'traveler', 'omar'), omarWechat);
    const request = await api('POST', '/v1/requests', {
      token: omar.token,
      body: { amountCny: '500.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    expect(request.status).toBe(201);
    requestId = request.body.id;

    const trade = await api('POST', `/v1/offers/${offerId}/take`, {
      token: omar.token,
      body: { amountCny: '1000.00', paymentMethod: 'paypal' },
    });
    expect(trade.status).toBe(201);
    tradeId = trade.body.id;
    const funding = await api('POST', `/v1/trades/${tradeId}/funding`, { token: omar.token, body: {} });
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: omarPayer } });
    await eventually(async () => (await api('GET', `/v1/trades/${tradeId}`, { token: omar.token })).body.state === 'funded', 15000);
  });

  const exportOf = async (user: TestUser) => {
    const response = await api('GET', '/v1/me/export', { token: user.token });
    expect(response.status).toBe(200);
    return response;
  };

  it('exports everything of the caller, own handles in clear, and nothing of the other party, even while the trade shows the wallet', async () => {
    // The trade's own view hands Dora, its counterparty, Omar's wallet while funded: the export must not.
    expect((await api('GET', `/v1/trades/${tradeId}`, { token: dora.token })).body.travelerWechatId).toBe(omarWechat);

    const { body, text } = await exportOf(dora);
    // Her own security record: the handles she set, from where.
    expect(body.securityEvents).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'handle_changed', field: 'wechat_id', ip: expect.any(String) }),
        expect.objectContaining({ kind: 'handle_changed', field: 'paypal_email' }),
      ]),
    );
    expect(body.account).toMatchObject({
      id: dora.id,
      email: dora.email,
      displayName: doraName,
      role: 'counterparty',
      paymentDetails: { wechatId: doraWechat, paypalEmail: doraPaypal },
    });
    expect(body.apiKeys).toEqual([expect.objectContaining({ prefix: doraKey.slice(0, 11), name: 'dora bot', revokedAt: null })]);
    expect(text).not.toContain(doraKey);
    expect(body.offers).toEqual([expect.objectContaining({ id: offerId, availableCny: '4000.00', status: 'active' })]);
    expect(body.requests).toEqual([]);
    expect(body.trades).toHaveLength(1);
    expect(body.trades[0]).toMatchObject({ id: tradeId, state: 'funded', travelerId: omar.id, counterpartyId: dora.id });
    expect(body.trades[0].timeline[0]).toMatchObject({ type: 'state_changed', fromState: null, toState: 'awaiting_funding' });
    expect(body.trades[0].timeline.map((e: { toState: string }) => e.toState)).toContain('funded');
    expect(body).toMatchObject({ webhookEndpoints: [], messages: [], ratings: { given: [], received: [] }, disputes: [] });
    expect(body.account.reputationCounters).toMatchObject({ completedTrades: 0, failedTrades: 0 });
    expect(body.dailyVolume).toEqual([{ day: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), volumeUsd: '138.12' }]);

    // Nothing of Omar's: not his wallet, his PayPal address, his email; no handle field on any trade (the timeline's
    // handle_revealed event names the field shown, never its value).
    for (const secret of [omarWechat, omarPayer, omar.email]) expect(text).not.toContain(secret);
    for (const trade of body.trades) expect(Object.keys(trade)).not.toContain('travelerWechatId');

    const omars = await exportOf(omar);
    expect(omars.body.account.paymentDetails).toEqual({ wechatId: omarWechat, paypalEmail: null });
    expect(omars.body.requests).toEqual([expect.objectContaining({ id: requestId, status: 'open', amountCny: '500.00' })]);
    expect(omars.body.trades.map((t: { id: string }) => t.id)).toEqual([tradeId]);
    expect(omars.body.offers).toEqual([]);
    for (const secret of [doraWechat, doraPaypal, dora.email]) expect(omars.text).not.toContain(secret);
  });

  it('exports disputes with their statements, and the timeline events of them', async () => {
    const opened = await api('POST', `/v1/trades/${tradeId}/disputes`, {
      token: dora.token,
      body: { reason: 'payment_not_released', statement: doraStatement },
    });
    expect(opened.status).toBe(201);
    disputeId = opened.body.id;
    const reply = await api('POST', `/v1/disputes/${disputeId}/statements`, {
      token: omar.token,
      body: {
        text: 'Omar: the RMB never arrived.',
        attachments: [{ name: 'omar-receipt.png', contentType: 'image/png', sizeBytes: 10, sha256: 'a'.repeat(64) }],
      },
    });
    expect(reply.status).toBe(201);

    const { body, text } = await exportOf(dora);
    expect(body.disputes).toHaveLength(1);
    expect(body.disputes[0]).toMatchObject({ id: disputeId, tradeId, status: 'open', reason: 'payment_not_released' });
    expect(body.disputes[0].statements.map((s: { text: string }) => s.text)).toEqual([doraStatement, 'Omar: the RMB never arrived.']);
    expect(body.trades[0].timeline.some((e: { type: string }) => e.type === 'dispute_statement')).toBe(true);
    for (const secret of [omarWechat, omarPayer, omar.email]) expect(text).not.toContain(secret);
  });

  it('refuses the deletion to operators (403), with a wrong password (401), and while the trade is live (409 live_trades)', async () => {
    const byOperator = await api('DELETE', '/v1/me', { token: operator.token, body: { password: operator.password } });
    expect(byOperator.status).toBe(403);
    expect(byOperator.body.code).toBe('forbidden');

    const wrong = await api('DELETE', '/v1/me', { token: dora.token, body: { password: 'not her password' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('unauthenticated');

    const missing = await api('DELETE', '/v1/me', { token: dora.token, body: {} });
    expect(missing.status).toBe(400);

    const live = await api('DELETE', '/v1/me', { token: dora.token, body: { password: dora.password } });
    expect(live.status).toBe(409);
    expect(live.body.code).toBe('live_trades');
    // Nothing changed: she still signs in and her offer is open.
    expect((await api('GET', '/v1/me', { token: dora.token })).body.displayName).toBe(doraName);
    expect((await api('GET', `/v1/offers/${offerId}`, { token: omar.token })).body.status).toBe('active');
  });

  it('refuses it after the end while money of the trade is still watched, and allows it once nothing is owed', async () => {
    const resolved = await api('POST', `/v1/admin/disputes/${disputeId}/resolve`, {
      token: operator.token,
      body: { outcome: 'refund', note: 'Refund: no proof of the RMB transfer.' },
    });
    expect(resolved.status).toBe(200);
    await eventually(async () => (await api('GET', `/v1/trades/${tradeId}`, { token: omar.token })).body.state === 'refunded', 20000);
    await eventually(async () => {
      const open = await db.query(
        `SELECT (SELECT count(*) FROM settlement_steps WHERE trade_id = $1 AND status <> 'done')::int
              + (SELECT count(*) FROM trade_fundings WHERE trade_id = $1 AND settlement_claimed_until > now())::int AS n`,
        [tradeId],
      );
      return open.rows[0].n === 0;
    }, 15000);

    // A payout that left unclaimed is watched until final: money of the trade may still come back.
    await db.query(
      `INSERT INTO settlement_steps (trade_id, step, attempt, request_id, status) VALUES ($1, 'watch_payout', 9, 'yb-test-watch', 'waiting')`,
      [tradeId],
    );
    const watched = await api('DELETE', '/v1/me', { token: dora.token, body: { password: dora.password } });
    await db.query(`UPDATE settlement_steps SET status = 'done', finished_at = now() WHERE trade_id = $1 AND attempt = 9`, [tradeId]);
    expect(watched.status).toBe(409);
    expect(watched.body.code).toBe('live_trades');
  });

  it('deletes: pseudonymized, access revoked, offer closed, statements erased; the books and the other party’s history intact', async () => {
    const omarsTradeBefore = (await api('GET', '/v1/trades', { token: omar.token })).body.data;
    const timelineBefore = (await api('GET', `/v1/trades/${tradeId}/events?limit=100`, { token: omar.token })).body.data;
    const reputationBefore = (await api('GET', `/v1/users/${dora.id}`, { token: omar.token })).body.reputation;

    const deleted = await api('DELETE', '/v1/me', { token: dora.token, body: { password: dora.password } });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({
      id: dora.id,
      email: `deleted:${dora.id}`,
      displayName: 'Deleted user',
      role: 'counterparty',
      wechatWalletSet: false,
      payoutAccount: null,
      reputation: reputationBefore,
    });
    expect(typeof deleted.body.deletedAt).toBe('string');

    // Her token and API key are refused; sign-in answers as for a wrong password, with either email.
    expect((await api('GET', '/v1/me', { token: dora.token })).status).toBe(401);
    expect((await api('GET', '/v1/me', { apiKey: doraKey })).status).toBe(401);
    const signIn = await api('POST', '/v1/auth/login', { body: { email: dora.email, password: dora.password } });
    const unknown = await api('POST', '/v1/auth/login', { body: { email: `nobody-${randomUUID()}@example.com`, password: 'x' } });
    expect(signIn.status).toBe(401);
    expect({ code: signIn.body.code, detail: signIn.body.detail }).toEqual({ code: unknown.body.code, detail: unknown.body.detail });
    expect((await api('POST', '/v1/auth/login', { body: { email: `deleted:${dora.id}`, password: dora.password } })).status).toBe(401);

    // Her open offer is closed, and shows its maker as "Deleted user"; so do her profile and the operators' view.
    const offer = await api('GET', `/v1/offers/${offerId}`, { token: omar.token });
    expect(offer.body).toMatchObject({ status: 'closed', maker: { id: dora.id, displayName: 'Deleted user' } });
    expect(
      (await api('POST', `/v1/offers/${offerId}/take`, { token: omar.token, body: { amountCny: '500.00', paymentMethod: 'paypal' } }))
        .status,
    ).toBe(409);
    expect((await api('GET', `/v1/users/${dora.id}`, { token: omar.token })).body).toMatchObject({ displayName: 'Deleted user' });
    const admin = await api('GET', `/v1/admin/users/${dora.id}`, { token: operator.token });
    expect(admin.body).toMatchObject({ displayName: 'Deleted user', email: `deleted:${dora.id}` });

    // Omar's history and timeline are unchanged, the trade still names her id; the books still balance.
    expect((await api('GET', '/v1/trades', { token: omar.token })).body.data).toEqual(omarsTradeBefore);
    expect((await api('GET', `/v1/trades/${tradeId}/events?limit=100`, { token: omar.token })).body.data).toEqual(timelineBefore);
    expect(omarsTradeBefore[0]).toMatchObject({ id: tradeId, counterpartyId: dora.id, state: 'refunded' });
    expect((await api('GET', '/v1/admin/ledger/check', { token: operator.token })).body).toEqual({ ok: true, violations: [] });

    // Her statement's text is erased, Omar's kept.
    const dispute = await api('GET', `/v1/disputes/${disputeId}`, { token: omar.token });
    expect(dispute.body.statements).toEqual([
      expect.objectContaining({ author: { kind: 'counterparty', id: dora.id }, text: null, erased: true }),
      expect.objectContaining({
        text: 'Omar: the RMB never arrived.',
        erased: false,
        attachments: [expect.objectContaining({ name: 'omar-receipt.png' })],
      }),
    ]);
  });

  it('leaves no trace of her email, name, handles or statement in clear in any table of the service', async () => {
    // The providers' mocks (paypal_mock_*, wechat_mock_*, bank_mock_*, sandbox_*) stand in for PayPal's, WeChat's
    // and the bank's own records, which the service does not keep.
    const tables = await db.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public'
          AND tablename !~ '^(paypal_mock_|wechat_mock_|bank_mock_|sandbox_)' AND tablename <> 'schema_migrations'`,
    );
    expect(tables.rows.map((r) => r.tablename)).toEqual(expect.arrayContaining(['users', 'dispute_statements', 'trades', 'audit_log']));
    const traces: string[] = [];
    for (const { tablename } of tables.rows) {
      const rows = await db.query(`SELECT t::text AS row FROM "${tablename}" t`);
      for (const { row } of rows.rows) {
        for (const secret of [dora.email, doraName, doraWechat, doraPaypal, doraStatement, 'dora bot']) {
          if ((row as string).toLowerCase().includes(secret.toLowerCase())) traces.push(`${tablename}: ${secret}`);
        }
      }
    }
    expect(traces).toEqual([]);
    // Her handle changes stay on record for operators, without the address she made them from.
    const events = await db.query(`SELECT kind, ip FROM account_events WHERE user_id = $1`, [dora.id]);
    expect(events.rows.length).toBeGreaterThan(0);
    expect(events.rows.every((event) => event.ip === null)).toBe(true);
    await expect(db.query(`UPDATE account_events SET ip = '10.0.0.1' WHERE user_id = $1`, [dora.id])).rejects.toThrow(/append-only/);
    // Omar's wallet is still on the trade, encrypted: never in clear either.
    const trade = await db.query(`SELECT t::text AS row FROM trades t WHERE id = $1`, [tradeId]);
    expect(trade.rows[0].row).not.toContain(omarWechat);

    // Her address is free again: someone new may register with it.
    const again = await api('POST', '/v1/auth/register', {
      body: { email: dora.email, password: 'a new password 1', displayName: 'Newcomer', role: 'traveler' },
    });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(dora.id);
  });

  it('keeps dispute statements append-only: the only change allowed is erasing a deleted author’s text, once', async () => {
    const refused = async (sql: string) => {
      await expect(db.query(sql, [disputeId])).rejects.toThrow(/append-only/);
    };
    const erase = `text_ciphertext = NULL, text_key_id = NULL, attachment_names_ciphertext = NULL, attachment_names_key_id = NULL`;
    // Omar is not deleted: his statement cannot be erased, edited or removed.
    await refused(`UPDATE dispute_statements SET ${erase}, erased_at = now() WHERE dispute_id = $1 AND erased_at IS NULL`);
    await refused(`UPDATE dispute_statements SET attachments = '[]' WHERE dispute_id = $1 AND erased_at IS NULL`);
    // Nor given another ciphertext under the same key id (his text copied over his attachment names), nor his names dropped.
    await refused(
      `UPDATE dispute_statements SET attachment_names_ciphertext = text_ciphertext WHERE dispute_id = $1 AND erased_at IS NULL`,
    );
    await refused(
      `UPDATE dispute_statements SET attachment_names_ciphertext = NULL, attachment_names_key_id = NULL
        WHERE dispute_id = $1 AND erased_at IS NULL`,
    );
    // Dora's erased statement cannot be written again, nor either one removed.
    await refused(
      `UPDATE dispute_statements s SET text_ciphertext = o.text_ciphertext, text_key_id = o.text_key_id, erased_at = NULL
         FROM dispute_statements o WHERE s.dispute_id = $1 AND s.erased_at IS NOT NULL AND o.dispute_id = $1 AND o.erased_at IS NULL`,
    );
    await refused(`DELETE FROM dispute_statements WHERE dispute_id = $1`);
    const kept = await db.query(
      `SELECT text_ciphertext IS NULL AS erased, attachments::text LIKE '%receipt%' AS named
         FROM dispute_statements WHERE dispute_id = $1 ORDER BY created_at`,
      [disputeId],
    );
    expect(kept.rows).toEqual([
      { erased: true, named: false },
      { erased: false, named: false },
    ]);
  });

  /** A counterparty with an active offer (100..500 of 1000 CNY) and a traveler ready to take it. */
  async function makerAndTaker(label: string) {
    const maker = await withWallet(api, await registerUser(api, 'counterparty', `maker-${label}`));
    await api('PUT', '/v1/me/payout-account', {
      token: maker.token,
      body: { method: 'paypal', paypalEmail: `maker-${randomUUID().slice(0, 8)}@example.com` },
    });
    const offer = await api('POST', '/v1/offers', {
      token: maker.token,
      body: { minCny: '100.00', maxCny: '500.00', totalCny: '1000.00', price: fixed('7.2400'), paymentMethods: ['paypal'] },
    });
    expect(offer.status).toBe(201);
    const taker = await withWallet(api, await registerUser(api, 'traveler', `taker-${label}`));
    const take = () =>
      api('POST', `/v1/offers/${offer.body.id}/take`, { token: taker.token, body: { amountCny: '200.00', paymentMethod: 'paypal' } });
    const remove = () => api('DELETE', '/v1/me', { token: maker.token, body: { password: maker.password } });
    return { maker, taker, offerId: offer.body.id as string, take, remove };
  }

  const lockWaiters = async () =>
    (
      await db.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
      )
    ).rows[0].n as number;

  /**
   * Runs `first` and then `second` while a test transaction holds the offer's row lock, each released only once
   * queued there: both take the offer's row before the maker's, so whichever queued first decides.
   */
  async function queuedOnTheOffer<A, B>(offerId: string, first: () => Promise<A>, second: () => Promise<B>): Promise<[A, B]> {
    const holder = new Client({ connectionString: test.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM offers WHERE id = $1 FOR UPDATE', [offerId]);
      const a = first();
      await eventually(async () => (await lockWaiters()) >= 1);
      const b = second();
      await eventually(async () => (await lockWaiters()) >= 2);
      await holder.query('COMMIT');
      return [await a, await b];
    } finally {
      await holder.end();
    }
  }

  it('a deletion queued on the offer before a take closes it: the take is refused, no trade is made', async () => {
    const { taker, offerId, take, remove } = await makerAndTaker('deletion-first');
    const [deletion, taken] = await queuedOnTheOffer(offerId, remove, take);
    expect(deletion.status).toBe(200);
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('invalid_state_transition');
    expect((await api('GET', `/v1/offers/${offerId}`, { token: taker.token })).body).toMatchObject({
      status: 'closed',
      availableCny: '1000.00',
      maker: { displayName: 'Deleted user' },
    });
    expect((await api('GET', '/v1/trades', { token: taker.token })).body.data).toEqual([]);
  });

  it('a take queued on the offer before a deletion makes its trade: the deletion is refused with live_trades', async () => {
    const { maker, taker, offerId, take, remove } = await makerAndTaker('take-first');
    const [taken, deletion] = await queuedOnTheOffer(offerId, take, remove);
    expect(taken.status).toBe(201);
    expect(deletion.status).toBe(409);
    expect(deletion.body.code).toBe('live_trades');
    expect((await api('GET', `/v1/offers/${offerId}`, { token: taker.token })).body.status).toBe('active');
    expect((await api('GET', '/v1/me', { token: maker.token })).status).toBe(200);
  });

  it('races deletions against takes freely: one of them wins each time, never both, never a 500', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { offerId, take, remove, taker } = await makerAndTaker(`free-${round}`);
      const [taken, deletion] = await Promise.all([take(), remove()]);
      if (taken.status === 201) {
        expect(deletion.status).toBe(409);
        expect(deletion.body.code).toBe('live_trades');
      } else {
        expect(taken.status).toBe(409);
        expect(deletion.status).toBe(200);
        expect((await api('GET', `/v1/offers/${offerId}`, { token: taker.token })).body.status).toBe('closed');
      }
    }
  });
});
