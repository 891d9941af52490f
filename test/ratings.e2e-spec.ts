import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { honorCaptureJobId } from '../src/queues/job-ids';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { moneyOwedSql } from '../src/trades/money-owed';
import { createOperator, registerUser, TestUser } from './support/factories';
import { Api } from './support/http';
import { fixed } from './support/market';
import { settling } from './support/settings';
import { eventually, TestApp } from './support/test-app';
import { fundTrade, NewTrade, newTrade } from './support/trades';
import { openPaypalTrade } from './support/paypal-trades';
import { useTestApp } from './support/use-test-app';

/**
 * Trade ratings through HTTP, with real workers settling trades at the PayPal mock: one rating per party per
 * ended trade (completed, refunded or settled_split), raced or repeated; the rated user's reputation on
 * `/v1/me`, profiles and listings; the list of a user's ratings; the export; a deleted rater's comments erased.
 */
describe('Trade ratings (HTTP)', () => {
  const suite = useTestApp(
    {
      ...settling,
      // A held PayPal authorization is captured into escrow at 2.4 s: a split needs the capture.
      PAYPAL_HONOR_PERIOD_MS: '3000',
    },
    { reference: '7.2400' },
  );
  let test: TestApp, api: Api, db: Client;
  let operator: TestUser;
  /** One traveler and one counterparty, who trade with each other several times. */
  let traveler: TestUser, counterparty: TestUser;
  let first: NewTrade;
  /** The trades, by how they ended. */
  const ended: { completed?: string; refunded?: string; split?: string } = {};
  const EMOJI_COMMENT = '😀'.repeat(500);

  beforeAll(async () => {
    ({ test, api, db } = suite);
    operator = await createOperator(test, api);
    first = await newTrade(api, { handles: { travelerPaypal: payerEmail() } });
    ({ traveler, counterparty } = first);
  });

  function payerEmail(): string {
    return `payer-${randomUUID().slice(0, 8)}@example.com`;
  }
  const state = async (tradeId: string) => (await api('GET', `/v1/trades/${tradeId}`, { token: operator.token })).body.state;
  const rate = (user: TestUser, tradeId: string, body: unknown, headers?: Record<string, string>) =>
    api('POST', `/v1/trades/${tradeId}/rating`, { token: user.token, body, headers });
  const reputationOf = async (user: TestUser) => (await api('GET', '/v1/me', { token: user.token })).body.reputation;
  const countersOf = async (userId: string) =>
    (await db.query(`SELECT rating_sum, rating_count FROM user_reputation WHERE user_id = $1`, [userId])).rows[0];

  /** A funded PayPal trade of 1000 CNY between the suite's two parties. */
  async function fundedBetween(): Promise<string> {
    const tradeId = await openPaypalTrade(api, { traveler, counterparty });
    await fundTrade(api, { ...first, trade: { id: tradeId }, handles: { ...first.handles, travelerPaypal: payerEmail() } });
    return tradeId;
  }

  /** A funded trade disputed by its traveler and resolved by the operator; waits for its end. */
  async function resolvedBetween(body: Record<string, unknown>, end: string): Promise<string> {
    const tradeId = await fundedBetween();
    const opened = await api('POST', `/v1/trades/${tradeId}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Part of it never arrived.' },
    });
    expect(opened.status).toBe(201);
    const resolved = await api('POST', `/v1/admin/disputes/${opened.body.id}/resolve`, {
      token: operator.token,
      body: { ...body, note: 'Decided on the receipts.' },
    });
    expect(resolved.status).toBe(200);
    await eventually(async () => (await state(tradeId)) === end, 20000);
    return tradeId;
  }

  it('refuses a rating until the trade has ended, naming its state', async () => {
    const tradeId = first.trade.id;
    const early = await rate(traveler, tradeId, { score: 5 });
    expect([early.status, early.body.code, early.body.state]).toEqual([409, 'invalid_state_transition', 'awaiting_funding']);
    expect(early.body.detail).toContain('awaiting_funding');

    await fundTrade(api, first);
    const funded = await rate(counterparty, tradeId, { score: 5 });
    expect([funded.status, funded.body.code, funded.body.state]).toEqual([409, 'invalid_state_transition', 'funded']);

    expect((await api('POST', `/v1/trades/${tradeId}/confirm-receipt`, { token: traveler.token })).status).toBe(200);
    await eventually(async () => (await state(tradeId)) === 'completed', 15000);
    ended.completed = tradeId;
    expect((await db.query(`SELECT count(*)::int AS n FROM ratings`)).rows[0].n).toBe(0);
  });

  it('refuses outsiders (404), operators (403) and bad input (400), changing nothing', async () => {
    const tradeId = ended.completed!;
    for (const outsider of [await registerUser(api, 'traveler', 'outsider'), await registerUser(api, 'counterparty', 'outsider')]) {
      const refused = await rate(outsider, tradeId, { score: 1, comment: 'never met them' });
      expect([refused.status, refused.body.code]).toEqual([404, 'not_found']);
    }
    const byOperator = await rate(operator, tradeId, { score: 1 });
    expect([byOperator.status, byOperator.body.code]).toEqual([403, 'forbidden']);
    const unknown = await rate(traveler, randomUUID(), { score: 5 });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    const notAnId = await rate(traveler, 'not-a-trade', { score: 5 });
    expect([notAnId.status, notAnId.body.code]).toEqual([400, 'validation_failed']);

    const bad: [unknown, string][] = [
      [{}, 'score'],
      [{ score: 0 }, 'score'],
      [{ score: 6 }, 'score'],
      [{ score: 3.5 }, 'score'],
      [{ score: '5' }, 'score'],
      [{ score: null }, 'score'],
      [{ score: 5, comment: 'x'.repeat(501) }, 'comment'],
      [{ score: 5, comment: '😀'.repeat(501) }, 'comment'],
      // Variation selectors are code points too: 500 of these are 3000 and 3500 bytes, past the stored bound.
      [{ score: 5, comment: '❤️'.repeat(500) }, 'comment'],
      [{ score: 5, comment: '😀\uFE0F'.repeat(500) }, 'comment'],
      [{ score: 5, comment: 'a\uFE0E'.repeat(251) }, 'comment'],
      [{ score: 5, comment: 42 }, 'comment'],
      [{ score: 5, stars: 5 }, 'stars'],
    ];
    for (const [body, field] of bad) {
      const refused = await rate(traveler, tradeId, body);
      expect({ body, status: refused.status, code: refused.body.code }).toEqual({ body, status: 400, code: 'validation_failed' });
      expect(refused.body.errors.map((e: { field: string }) => e.field)).toEqual([field]);
    }
    // Nothing was rated or counted.
    expect((await db.query(`SELECT count(*)::int AS n FROM ratings`)).rows[0].n).toBe(0);
    for (const party of [traveler, counterparty]) {
      expect(await reputationOf(party)).toMatchObject({ ratingAverage: null, ratingCount: 0 });
      expect(await countersOf(party.id)).toEqual({ rating_sum: 0, rating_count: 0 });
    }
    expect((await api('GET', `/v1/users/${counterparty.id}/ratings`, { token: traveler.token })).body).toEqual({
      data: [],
      nextCursor: null,
    });
  });

  it('takes one rating from each party; a second, or two at once, is already_rated and counts once', async () => {
    const tradeId = ended.completed!;
    const body = { score: 5, comment: 'Fast and friendly.' };
    const raced = await Promise.all([rate(traveler, tradeId, body), rate(traveler, tradeId, body)]);
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409]);
    const created = raced.find((r) => r.status === 201)!;
    const refused = raced.find((r) => r.status === 409)!;
    expect(refused.body.code).toBe('already_rated');
    expect(Object.keys(created.body).sort()).toEqual(['comment', 'createdAt', 'score', 'tradeId']);
    expect(created.body).toMatchObject({ tradeId, score: 5, comment: 'Fast and friendly.' });
    expect(new Date(created.body.createdAt).toISOString()).toBe(created.body.createdAt);

    const again = await rate(traveler, tradeId, { score: 1, comment: 'Changed my mind.' });
    expect([again.status, again.body.code]).toEqual([409, 'already_rated']);

    // The counterparty rates the traveler: 500 code points, each of 4 bytes, is the longest comment.
    const back = await rate(counterparty, tradeId, { score: 4, comment: EMOJI_COMMENT });
    expect(back.status).toBe(201);
    expect(back.body.comment).toBe(EMOJI_COMMENT);
    expect((await rate(counterparty, tradeId, { score: 4 })).body.code).toBe('already_rated');

    // Counted once each, for the rated party.
    expect(await countersOf(counterparty.id)).toEqual({ rating_sum: 5, rating_count: 1 });
    expect(await countersOf(traveler.id)).toEqual({ rating_sum: 4, rating_count: 1 });
    expect(await reputationOf(counterparty)).toMatchObject({ ratingAverage: 5, ratingCount: 1 });
    expect((await api('GET', `/v1/users/${traveler.id}`, { token: counterparty.token })).body.reputation).toMatchObject({
      ratingAverage: 4,
      ratingCount: 1,
    });

    // The comments are encrypted at rest.
    const stored = await db.query(`SELECT comment_ciphertext, comment_key_id FROM ratings WHERE trade_id = $1`, [tradeId]);
    expect(stored.rows).toHaveLength(2);
    for (const row of stored.rows) {
      expect(row.comment_key_id).toEqual(expect.any(String));
      expect(row.comment_ciphertext).not.toContain('friendly');
      expect(row.comment_ciphertext).not.toContain('😀');
    }
  });

  it('rates refunded and settled_split trades too: the average shows on /v1/me, profiles and listings', async () => {
    ended.refunded = await resolvedBetween({ outcome: 'refund' }, 'refunded');
    ended.split = await resolvedBetween({ outcome: 'split', travelerUsd: '49.62', counterpartyUsd: '88.50' }, 'settled_split');

    // Replayed with its Idempotency-Key: the first answer, counted once.
    const key = { 'idempotency-key': `rating-${randomUUID()}` };
    const refundedRating = await rate(traveler, ended.refunded, { score: 2, comment: 'Slow to answer.' }, key);
    expect(refundedRating.status).toBe(201);
    const replay = await rate(traveler, ended.refunded, { score: 2, comment: 'Slow to answer.' }, key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(refundedRating.body);

    expect((await rate(traveler, ended.split, { score: 3 })).body).toMatchObject({ score: 3, comment: null });
    expect((await rate(counterparty, ended.split, { score: 5, comment: '' })).body).toMatchObject({ score: 5, comment: null });

    // The counterparty: 5, 2 and 3 → 3.33 over 3; the traveler: 4 and 5 → 4.5 over 2.
    expect(await countersOf(counterparty.id)).toEqual({ rating_sum: 10, rating_count: 3 });
    const counterpartyReputation = { ratingAverage: 3.33, ratingCount: 3 };
    const travelerReputation = { ratingAverage: 4.5, ratingCount: 2 };
    expect(await reputationOf(counterparty)).toMatchObject(counterpartyReputation);
    expect(await reputationOf(traveler)).toMatchObject(travelerReputation);
    expect((await api('GET', `/v1/users/${counterparty.id}`, { token: traveler.token })).body.reputation).toMatchObject(
      counterpartyReputation,
    );

    // Listings carry their maker's reputation: the counterparty's offer, the traveler's request.
    const offer = await api('POST', '/v1/offers', {
      token: counterparty.token,
      body: { minCny: '500', maxCny: '1000', totalCny: '1000', price: fixed('7.2400'), paymentMethods: ['paypal'] },
    });
    expect(offer.status).toBe(201);
    const offers = (await api('GET', '/v1/offers?limit=100', { token: traveler.token })).body.data;
    expect(offers.find((o: { id: string }) => o.id === offer.body.id).maker.reputation).toMatchObject(counterpartyReputation);
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '500.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    expect(request.status).toBe(201);
    const requests = (await api('GET', '/v1/requests?limit=100', { token: counterparty.token })).body.data;
    expect(requests.find((r: { id: string }) => r.id === request.body.id).maker.reputation).toMatchObject(travelerReputation);
  });

  it('lists the ratings a user received, newest first, a page at a time, to anyone signed in', async () => {
    const reader = await registerUser(api, 'counterparty', 'reader');
    const pages: { score: number; comment: string | null; raterRole: string; createdAt: string }[][] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: never[]; nextCursor: string | null } } = await api(
        'GET',
        `/v1/users/${counterparty.id}/ratings?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: reader.token },
      );
      expect(page.status).toBe(200);
      pages.push(page.body.data);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    const all = pages.flat();
    expect(all.map((r) => Object.keys(r).sort())).toEqual(all.map(() => ['comment', 'createdAt', 'raterRole', 'score']));
    expect(all.map(({ score, comment, raterRole }) => ({ score, comment, raterRole }))).toEqual([
      { score: 3, comment: null, raterRole: 'traveler' },
      { score: 2, comment: 'Slow to answer.', raterRole: 'traveler' },
      { score: 5, comment: 'Fast and friendly.', raterRole: 'traveler' },
    ]);
    const times = all.map((r) => Date.parse(r.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    // Operators read it too; an unknown user is 404, a forged cursor 400 (for an unknown user too: bad input
    // comes before not found), anonymous 401.
    expect((await api('GET', `/v1/users/${traveler.id}/ratings`, { token: operator.token })).body.data).toEqual([
      expect.objectContaining({ score: 5, comment: null, raterRole: 'counterparty' }),
      expect.objectContaining({ score: 4, comment: EMOJI_COMMENT, raterRole: 'counterparty' }),
    ]);
    const unknown = await api('GET', `/v1/users/${randomUUID()}/ratings`, { token: reader.token });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    const forged = await api('GET', `/v1/users/${counterparty.id}/ratings?cursor=bm90LWEtY3Vyc29y`, { token: reader.token });
    expect([forged.status, forged.body.code]).toEqual([400, 'validation_failed']);
    const forgedForUnknown = await api('GET', `/v1/users/${randomUUID()}/ratings?cursor=bm90LWEtY3Vyc29y`, { token: reader.token });
    expect([forgedForUnknown.status, forgedForUnknown.body.code]).toEqual([400, 'validation_failed']);
    expect((await api('GET', `/v1/users/${counterparty.id}/ratings`)).status).toBe(401);
  });

  it('exports the ratings the caller gave and received', async () => {
    const exported = (await api('GET', '/v1/me/export', { token: traveler.token })).body;
    expect(exported.ratings.given.map(({ tradeId, score, comment }: Record<string, unknown>) => ({ tradeId, score, comment }))).toEqual([
      { tradeId: ended.completed, score: 5, comment: 'Fast and friendly.' },
      { tradeId: ended.refunded, score: 2, comment: 'Slow to answer.' },
      { tradeId: ended.split, score: 3, comment: null },
    ]);
    expect(exported.ratings.received).toEqual([
      { tradeId: ended.split, score: 5, comment: null, raterRole: 'counterparty', createdAt: expect.any(String) },
      { tradeId: ended.completed, score: 4, comment: EMOJI_COMMENT, raterRole: 'counterparty', createdAt: expect.any(String) },
    ]);
  });

  it('erases a deleted rater’s comments; the scores and the reputation they made stay', async () => {
    const deleted = await api('DELETE', '/v1/me', { token: traveler.token, body: { password: traveler.password } });
    expect(deleted.status).toBe(200);

    const received = (await api('GET', `/v1/users/${counterparty.id}/ratings`, { token: counterparty.token })).body.data;
    expect(received.map(({ score, comment }: { score: number; comment: string | null }) => ({ score, comment }))).toEqual([
      { score: 3, comment: null },
      { score: 2, comment: null },
      { score: 5, comment: null },
    ]);
    expect(await reputationOf(counterparty)).toMatchObject({ ratingAverage: 3.33, ratingCount: 3 });
    const erased = await db.query(
      `SELECT comment_ciphertext, comment_key_id, comment_erased_at IS NOT NULL AS erased FROM ratings WHERE rater_id = $1 ORDER BY created_at`,
      [traveler.id],
    );
    expect(erased.rows).toEqual([
      { comment_ciphertext: null, comment_key_id: null, erased: true },
      { comment_ciphertext: null, comment_key_id: null, erased: true },
      { comment_ciphertext: null, comment_key_id: null, erased: false },
    ]);
    // What others wrote about the deleted account stays, as does its reputation.
    const aboutTraveler = (await api('GET', `/v1/users/${traveler.id}/ratings`, { token: counterparty.token })).body.data;
    expect(aboutTraveler.map((r: { comment: string | null }) => r.comment)).toEqual([null, EMOJI_COMMENT]);
    expect((await api('GET', `/v1/users/${traveler.id}`, { token: counterparty.token })).body).toMatchObject({
      displayName: 'Deleted user',
      reputation: { ratingAverage: 4.5, ratingCount: 2 },
    });

    // Ratings are append-only in the database as well: no other change, no deletion.
    await expect(db.query(`UPDATE ratings SET score = 1 WHERE rated_id = $1`, [counterparty.id])).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM ratings WHERE rated_id = $1`, [counterparty.id])).rejects.toThrow(/append-only/);
    await expect(
      db.query(`UPDATE ratings SET comment_ciphertext = NULL, comment_key_id = NULL, comment_erased_at = now() WHERE rater_id = $1`, [
        counterparty.id,
      ]),
    ).rejects.toThrow(/append-only/);
    // Nor a rating of a trade that has not ended, by its right party in the right role.
    const open = await newTrade(api);
    expect(await state(open.trade.id)).toBe('awaiting_funding');
    const insert = `INSERT INTO ratings (trade_id, rater_id, rated_id, rater_role, score) VALUES ($1, $2, $3, $4, 5)`;
    await expect(db.query(insert, [open.trade.id, open.counterparty.id, open.traveler.id, 'counterparty'])).rejects.toThrow(
      /one party of an ended trade/,
    );
    // Nor one of an ended trade in the other party's role (the counterparty has not rated the refunded trade).
    await expect(db.query(insert, [ended.refunded, counterparty.id, traveler.id, 'traveler'])).rejects.toThrow(
      /one party of an ended trade/,
    );
  });

  describe('a rating racing its rater’s account deletion', () => {
    const COMMENT = 'Rated while leaving.';

    /** A completed trade between two new parties, owing nothing any more: its traveler may delete the account. */
    async function completedTrade(): Promise<NewTrade> {
      const opened = await newTrade(api, { handles: { travelerPaypal: payerEmail() } });
      await fundTrade(api, opened, 20000);
      expect((await api('POST', `/v1/trades/${opened.trade.id}/confirm-receipt`, { token: opened.traveler.token })).status).toBe(200);
      await eventually(async () => (await state(opened.trade.id)) === 'completed', 30000);
      // The honour-period capture job holds the trade's settlement claim while it runs, which holds a deletion
      // back (409 live_trades): the race starts once it has run (or the run that completed the trade removed it
      // before its time), and nothing is owed any more.
      const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
      await eventually(async () => {
        const capture = await settlement.getJob(honorCaptureJobId(opened.trade.id));
        return !capture || (await capture.getState()) === 'completed';
      }, 20000);
      const owed = async () =>
        (await db.query(`SELECT ${moneyOwedSql('t')} AS owed FROM trades t WHERE t.id = $1`, [opened.trade.id])).rows[0].owed;
      await eventually(async () => !(await owed()), 30000);
      return opened;
    }

    const deleteAccount = (user: TestUser) => api('DELETE', '/v1/me', { token: user.token, body: { password: user.password } });

    /** Either the rating lost (401, nothing stored or counted) or it won and the deletion erased its comment. */
    async function expectNoCommentSurvives(opened: NewTrade, rating: { status: number; body: any }) {
      expect([201, 401]).toContain(rating.status);
      const rows = (
        await db.query(
          `SELECT comment_ciphertext, comment_key_id, comment_erased_at IS NOT NULL AS erased FROM ratings WHERE trade_id = $1`,
          [opened.trade.id],
        )
      ).rows;
      const counted = await countersOf(opened.counterparty.id);
      if (rating.status === 401) {
        expect(rating.body.code).toBe('unauthenticated');
        expect(rows).toEqual([]);
        expect(counted).toEqual({ rating_sum: 0, rating_count: 0 });
      } else {
        expect(rows).toEqual([{ comment_ciphertext: null, comment_key_id: null, erased: true }]);
        expect(counted).toEqual({ rating_sum: 4, rating_count: 1 });
        const received = await api('GET', `/v1/users/${opened.counterparty.id}/ratings`, { token: opened.counterparty.token });
        expect(received.body.data.map(({ score, comment }: { score: number; comment: string | null }) => ({ score, comment }))).toEqual([
          { score: 4, comment: null },
        ]);
      }
    }

    it('sent together: 401 with no rating, or 201 with the comment erased; never 500', async () => {
      // The rating sent a little later each round, so that either may win (the deletion checks a password first).
      const lags = [0, 10, 30, 60];
      const trades = await Promise.all(lags.map(() => completedTrade()));
      for (const [round, opened] of trades.entries()) {
        const [deletion, rating] = await Promise.all([
          deleteAccount(opened.traveler),
          new Promise((resolve) => setTimeout(resolve, lags[round])).then(() =>
            rate(opened.traveler, opened.trade.id, { score: 4, comment: COMMENT }),
          ),
        ]);
        // A provider's late callback on the ended trade runs a settlement check that holds the trade's claim for a
        // moment (money-owed.ts), answered 409 live_trades; the deletion is then asked again once it has let go.
        const deleted =
          deletion.status === 409 && deletion.body.code === 'live_trades'
            ? await eventually(async () => {
                const again = await deleteAccount(opened.traveler);
                return again.status === 409 && again.body.code === 'live_trades' ? undefined : again;
              }, 30000)
            : deletion;
        expect([deleted.status, deleted.body.code, deleted.body.detail]).toEqual([200, undefined, undefined]);
        await expectNoCommentSurvives(opened, rating);
      }
    });

    it('queued behind the deletion on the rater’s row: 401, and nothing is rated or counted', async () => {
      const opened = await completedTrade();
      const waiting = async () =>
        (
          await db.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE NOT l.granted AND a.datname = current_database()`,
          )
        ).rows[0].n as number;
      // Holds the rater's row, queues the deletion on it and the rating behind, then lets them go in that order.
      const holder = new Client({ connectionString: test.databaseUrl });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [opened.traveler.id]);
        const deletion = deleteAccount(opened.traveler);
        await eventually(async () => (await waiting()) >= 1, 15000);
        const rating = rate(opened.traveler, opened.trade.id, { score: 4, comment: COMMENT });
        await eventually(async () => (await waiting()) >= 2, 15000);
        await holder.query('COMMIT');
        const deleted = await deletion;
        const answered = await rating;
        expect([deleted.status, deleted.body.code, deleted.body.detail]).toEqual([200, undefined, undefined]);
        expect([answered.status, answered.body.code]).toEqual([401, 'unauthenticated']);
        await expectNoCommentSurvives(opened, answered);
      } finally {
        await holder.end();
      }
    });
  });
});
