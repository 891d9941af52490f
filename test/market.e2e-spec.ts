import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { RatesService } from '../src/rates/rates.service';
import { createOperator, registerUser, TestUser } from './support/factories';
import { Api } from './support/http';
import { eventually } from './support/test-app';
import { quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

let walletSeq = 0;
async function withWallet(api: Api, user: TestUser): Promise<TestUser> {
  walletSeq += 1;
  const wallet = await api('PUT', '/v1/me/wechat-wallet', {
    token: user.token,
    body: { wechatId: `wx_${Date.now().toString(36)}${walletSeq}` },
  });
  if (wallet.status !== 200) throw new Error(`wallet: ${wallet.text}`);
  return user;
}

async function readyCounterparty(api: Api, label = 'counterparty'): Promise<TestUser> {
  const user = await withWallet(api, await registerUser(api, 'counterparty', label));
  const payout = await api('PUT', '/v1/me/payout-account', {
    token: user.token,
    body: { method: 'paypal', paypalEmail: `${label}-${walletSeq}@example.com` },
  });
  if (payout.status !== 200) throw new Error(`payout: ${payout.text}`);
  return user;
}

const fixed = (rate: string) => ({ type: 'fixed', rate });
const floating = (premiumBps: number) => ({ type: 'floating', premiumBps });

describe('market (HTTP)', () => {
  const { test, api, db } = useTestApp({
    ...quietRates,
    RATE_FEED_BASE: '7.2400',
    EXPIRY_MINUTE_MS: '40',
    // The sweeper runs when a test asks, so it cannot beat the expiry job to a request.
    EXPIRY_SWEEP_EVERY_MS: '3600000',
  });
  let rates: RatesService;

  beforeAll(async () => {
    rates = test.app.get(RatesService);
  });

  async function setReference(rate: string): Promise<void> {
    const [whole, decimals = ''] = rate.split('.');
    await rates.record(BigInt(whole) * 10000n + BigInt(decimals.padEnd(4, '0')), new Date(), 'test');
  }

  describe('reference rate', () => {
    it('serves the reference rate and the mock feed', async () => {
      await setReference('7.2400');
      const reference = await api('GET', '/v1/rates/usd-cny');
      expect(reference.status).toBe(200);
      expect(reference.body).toEqual({ rate: '7.2400', asOf: expect.any(String), stale: false });
      const feed = await api('GET', '/sandbox/rates/usd-cny');
      expect(feed.status).toBe(200);
      expect(feed.body).toEqual({ rate: '7.2400', asOf: expect.any(String) });
      const history = await db.query(`SELECT count(*)::int AS n FROM reference_rates`);
      expect(history.rows[0].n).toBeGreaterThanOrEqual(2);
    });

    it('takes the rate feed down with PUT /sandbox/faults: its API answers 503 and a refresh records nothing', async () => {
      await api('PUT', '/sandbox/faults', { body: { provider: 'rates', down: true } });
      try {
        const feed = await api('GET', '/sandbox/rates/usd-cny');
        expect(feed.status).toBe(503);
        expect(feed.body.code).toBe('service_unavailable');
        const before = (await db.query(`SELECT count(*)::int AS n FROM reference_rates`)).rows[0].n;
        await expect(rates.refresh()).rejects.toMatchObject({ code: 'service_unavailable' });
        expect((await db.query(`SELECT count(*)::int AS n FROM reference_rates`)).rows[0].n).toBe(before);
      } finally {
        await api('PUT', '/sandbox/faults', { body: { provider: 'rates' } });
      }
      expect((await api('GET', '/sandbox/rates/usd-cny')).status).toBe(200);
    });
  });

  describe('exchange requests', () => {
    it('posts, reads and cancels a request with the contract fields', async () => {
      await setReference('7.2400');
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      const posted = await api('POST', '/v1/requests', {
        token: traveler.token,
        body: { amountCny: '2000', price: fixed('7.2'), paymentMethod: 'paypal', minFillCny: '500.5' },
      });
      expect(posted.status).toBe(201);
      expect(posted.body).toMatchObject({
        travelerId: traveler.id,
        amountCny: '2000.00',
        remainingCny: '2000.00',
        minFillCny: '500.50',
        price: { type: 'fixed', rate: '7.2000' },
        effectiveRate: '7.2000',
        paymentMethod: 'paypal',
        status: 'open',
        maker: {
          id: traveler.id,
          displayName: 'traveler',
          reputation: expect.objectContaining({ completedTrades: 0, completionRate: null }),
        },
      });
      const expiresInMs = Date.parse(posted.body.expiresAt) - Date.parse(posted.body.createdAt);
      expect(expiresInMs).toBeGreaterThan(1440 * 40 - 1000);
      expect(expiresInMs).toBeLessThan(1440 * 40 + 1000);

      const floatingRequest = await api('POST', '/v1/requests', {
        token: traveler.token,
        body: { amountCny: '300.00', price: floating(-150), paymentMethod: 'bank_transfer' },
      });
      expect(floatingRequest.status).toBe(201);
      expect(floatingRequest.body).toMatchObject({
        minFillCny: '300.00',
        price: { type: 'floating', premiumBps: -150 },
        effectiveRate: '7.1314',
      });

      const counterparty = await registerUser(api, 'counterparty');
      expect((await api('GET', `/v1/requests/${posted.body.id}`, { token: counterparty.token })).status).toBe(200);
      const otherTraveler = await registerUser(api, 'traveler');
      // Any user reads any request (API.md); only its traveler cancels it.
      expect((await api('GET', `/v1/requests/${posted.body.id}`, { token: otherTraveler.token })).status).toBe(200);
      expect((await api('POST', `/v1/requests/${posted.body.id}/cancel`, { token: otherTraveler.token })).status).toBe(404);
      expect((await api('POST', `/v1/requests/${posted.body.id}/cancel`, { token: counterparty.token })).status).toBe(403);

      const cancelled = await api('POST', `/v1/requests/${posted.body.id}/cancel`, { token: traveler.token });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
      const again = await api('POST', `/v1/requests/${posted.body.id}/cancel`, { token: traveler.token });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ code: 'invalid_state_transition', detail: expect.stringContaining('cancelled') });
      // A cancelled request leaves the listings, and is still read by id, cancelled.
      expect((await api('GET', `/v1/requests/${posted.body.id}`, { token: counterparty.token })).body).toMatchObject({
        id: posted.body.id,
        status: 'cancelled',
      });
      const listed = await api('GET', '/v1/requests?limit=100', { token: counterparty.token });
      expect(listed.body.data.map((r: { id: string }) => r.id)).not.toContain(posted.body.id);
    });

    it('refuses bad requests with their codes and changes nothing', async () => {
      await setReference('7.2400');
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      const post = (body: unknown) => api('POST', '/v1/requests', { token: traveler.token, body });
      const base = { amountCny: '1000.00', price: fixed('7.2000'), paymentMethod: 'paypal' };

      const cases: [unknown, number, string, string?][] = [
        [{ ...base, amountCny: 1000 }, 400, 'validation_failed', 'amountCny'],
        [{ ...base, amountCny: '1000.123' }, 400, 'validation_failed', 'amountCny'],
        [{ ...base, amountCny: '-5' }, 400, 'validation_failed', 'amountCny'],
        [{ ...base, amountCny: '0' }, 400, 'validation_failed', 'amountCny'],
        [{ ...base, minFillCny: '1000.01' }, 400, 'validation_failed', 'minFillCny'],
        [{ ...base, expiresInMinutes: 4 }, 400, 'validation_failed', 'expiresInMinutes'],
        [{ ...base, expiresInMinutes: 10081 }, 400, 'validation_failed', 'expiresInMinutes'],
        [{ ...base, paymentMethod: 'cash' }, 400, 'validation_failed', 'paymentMethod'],
        [{ ...base, price: { type: 'fixed', rate: '7.2', premiumBps: 5 } }, 400, 'validation_failed', 'price.premiumBps'],
        [{ ...base, price: { type: 'fixed', rate: '7.12345' } }, 400, 'validation_failed', 'price.rate'],
        [{ ...base, price: { type: 'floating' } }, 400, 'validation_failed', 'price.premiumBps'],
        [{ ...base, price: { type: 'barter' } }, 400, 'validation_failed', 'price.type'],
        [{ ...base, price: fixed('7.6100') }, 400, 'rate_out_of_bounds'],
        [{ ...base, price: fixed('6.8700') }, 400, 'rate_out_of_bounds'],
        [{ ...base, price: floating(501) }, 400, 'rate_out_of_bounds'],
        [{ ...base, price: floating(-501) }, 400, 'rate_out_of_bounds'],
      ];
      for (const [body, status, code, field] of cases) {
        const response = await post(body);
        expect({ body, status: response.status, code: response.body.code }).toEqual({ body, status, code });
        if (field) expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      // Within 5% either way is accepted.
      expect((await post({ ...base, price: fixed('7.6020') })).status).toBe(201);
      expect((await post({ ...base, price: fixed('6.8780') })).status).toBe(201);
      const count = await db.query(`SELECT count(*)::int AS n FROM exchange_requests WHERE traveler_id = $1`, [traveler.id]);
      expect(count.rows[0].n).toBe(2);
    });

    it('needs a WeChat wallet, a traveler, an active account', async () => {
      await setReference('7.2400');
      const body = { amountCny: '1000.00', price: fixed('7.2000'), paymentMethod: 'paypal' };
      const noWallet = await registerUser(api, 'traveler');
      const missing = await api('POST', '/v1/requests', { token: noWallet.token, body });
      expect(missing.status).toBe(409);
      expect(missing.body.code).toBe('missing_payment_details');

      const counterparty = await readyCounterparty(api);
      expect((await api('POST', '/v1/requests', { token: counterparty.token, body })).body.code).toBe('forbidden');

      const operator = await createOperator(test, api);
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      await api('POST', `/v1/admin/users/${traveler.id}/suspend`, { token: operator.token });
      const suspended = await api('POST', '/v1/requests', { token: traveler.token, body });
      expect(suspended.status).toBe(403);
      expect(suspended.body.code).toBe('account_suspended');
    });

    it('refuses fixed prices while the reference is stale', async () => {
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      await db.query(`UPDATE reference_rates SET as_of = as_of - interval '1 hour'`);
      // Behind the service's back: the service would otherwise go on with the reference it read a moment ago.
      rates.forget();
      try {
        const reference = await api('GET', '/v1/rates/usd-cny');
        expect(reference.body.stale).toBe(true);
        const refused = await api('POST', '/v1/requests', {
          token: traveler.token,
          body: { amountCny: '1000.00', price: fixed('7.2000'), paymentMethod: 'paypal' },
        });
        expect(refused.status).toBe(503);
        expect(refused.body.code).toBe('reference_rate_stale');
        // When to come back: the feed is asked once a refresh period (REFERENCE_RATE_REFRESH_EVERY_MS, an hour here).
        expect(refused.headers.get('retry-after')).toBe('3600');
      } finally {
        await setReference('7.2400');
      }
      expect(
        (
          await api('POST', '/v1/requests', {
            token: traveler.token,
            body: { amountCny: '1000.00', price: fixed('7.2000'), paymentMethod: 'paypal' },
          })
        ).status,
      ).toBe(201);
    });

    it('expires a request by its delayed job', async () => {
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      const posted = await api('POST', '/v1/requests', {
        token: traveler.token,
        body: { amountCny: '100.00', price: floating(0), paymentMethod: 'paypal', expiresInMinutes: 5 },
      });
      expect(posted.status).toBe(201);
      const queue = test.app.get(QueueRegistry).get(QUEUES.market);
      const job = await eventually(async () => queue.getJob(`expire-request-${posted.body.id}`));
      await eventually(async () => (await job.isCompleted()) && (await queue.getJob(job.id!))?.returnvalue?.expired === true);
      const row = await db.query(`SELECT status FROM exchange_requests WHERE id = $1`, [posted.body.id]);
      expect(row.rows[0].status).toBe('expired');
      expect((await api('GET', `/v1/requests/${posted.body.id}`, { token: traveler.token })).body.status).toBe('expired');
    });

    it('expires a request by the sweeper when its job is gone, and never lists it once expired', async () => {
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      const counterparty = await registerUser(api, 'counterparty');
      const listed = async () =>
        (await api('GET', '/v1/requests?limit=100', { token: counterparty.token })).body.data.map((r: { id: string }) => r.id);
      // Redis lost the job: the outbox says it was published, yet no job exists. The queue is paused until the job is
      // taken away, so it cannot run first however slow the machine; the request lives 2 s.
      const expiries = test.app.get(QueueRegistry).get(QUEUES.market);
      await expiries.pause();
      let id: string;
      try {
        const posted = await api('POST', '/v1/requests', {
          token: traveler.token,
          body: { amountCny: '100.00', price: floating(0), paymentMethod: 'paypal', expiresInMinutes: 50 },
        });
        id = posted.body.id;
        await eventually(async () => (await expiries.getJob(`expire-request-${id}`)) !== undefined);
        expect(await expiries.remove(`expire-request-${id}`)).toBe(1);
        expect(await listed()).toContain(id);
      } finally {
        await expiries.resume();
      }
      await eventually(
        async () =>
          (await db.query(`SELECT 1 FROM outbox WHERE job_id = $1 AND published_at IS NOT NULL`, [`expire-request-${id}`])).rowCount,
      );
      await eventually(
        async () => Date.now() > Date.parse((await api('GET', `/v1/requests/${id}`, { token: traveler.token })).body.expiresAt),
      );
      expect(await listed()).not.toContain(id);
      expect((await db.query(`SELECT status FROM exchange_requests WHERE id = $1`, [id])).rows[0].status).toBe('open');

      // The sweeper is registered as a job scheduler; here one of its runs is started at once.
      const queue = test.app.get(QueueRegistry).get(QUEUES.market);
      expect(await queue.getJobScheduler(JOBS.market.sweepExpiredRequests)).toMatchObject({ every: 3600000 });
      const sweep = await queue.add(JOBS.market.sweepExpiredRequests, {});
      await eventually(async () => (await queue.getJob(sweep.id!))?.finishedOn);
      expect((await queue.getJob(sweep.id!))?.returnvalue.expired).toBeGreaterThanOrEqual(1);
      expect((await db.query(`SELECT status FROM exchange_requests WHERE id = $1`, [id])).rows[0].status).toBe('expired');
      expect(await queue.getJob(`expire-request-${id}`)).toBeUndefined();
    });
  });

  describe('offers', () => {
    it('posts an offer and moves it through pause, resume and close', async () => {
      await setReference('7.2400');
      const maker = await readyCounterparty(api, 'maker');
      const posted = await api('POST', '/v1/offers', {
        token: maker.token,
        body: { minCny: '500', maxCny: '5000', totalCny: '20000', price: floating(100), paymentMethods: ['paypal', 'bank_transfer'] },
      });
      expect(posted.status).toBe(201);
      expect(posted.body).toMatchObject({
        counterpartyId: maker.id,
        minCny: '500.00',
        maxCny: '5000.00',
        totalCny: '20000.00',
        availableCny: '20000.00',
        price: { type: 'floating', premiumBps: 100 },
        effectiveRate: '7.3124',
        paymentMethods: ['paypal', 'bank_transfer'],
        status: 'active',
      });
      const id = posted.body.id;
      const traveler = await registerUser(api, 'traveler');
      expect((await api('GET', `/v1/offers/${id}`, { token: traveler.token })).body.id).toBe(id);
      expect((await api('POST', `/v1/offers/${id}/pause`, { token: traveler.token })).status).toBe(403);
      const rival = await readyCounterparty(api, 'rival');
      expect((await api('POST', `/v1/offers/${id}/pause`, { token: rival.token })).body.code).toBe('forbidden');

      expect((await api('POST', `/v1/offers/${id}/pause`, { token: maker.token })).body.status).toBe('paused');
      const pausedAgain = await api('POST', `/v1/offers/${id}/pause`, { token: maker.token });
      expect(pausedAgain.status).toBe(409);
      expect(pausedAgain.body.detail).toContain('paused');
      expect((await api('POST', `/v1/offers/${id}/resume`, { token: maker.token })).body.status).toBe('active');
      expect((await api('POST', `/v1/offers/${id}/close`, { token: maker.token })).body.status).toBe('closed');
      const resumeClosed = await api('POST', `/v1/offers/${id}/resume`, { token: maker.token });
      expect(resumeClosed.status).toBe(409);
      expect(resumeClosed.body).toMatchObject({ code: 'invalid_state_transition', detail: expect.stringContaining('closed') });
      expect((await api('POST', '/v1/offers/00000000-0000-4000-8000-000000000000/pause', { token: maker.token })).status).toBe(404);
    });

    it('refuses bad offers with their codes', async () => {
      await setReference('7.2400');
      const maker = await readyCounterparty(api);
      const base = { minCny: '500.00', maxCny: '5000.00', totalCny: '20000.00', price: fixed('7.3000'), paymentMethods: ['paypal'] };
      const post = (body: unknown, token = maker.token) => api('POST', '/v1/offers', { token, body });
      expect((await post({ ...base, maxCny: '400.00' })).body.errors[0].field).toBe('maxCny');
      expect((await post({ ...base, totalCny: '100.00' })).body.errors[0].field).toBe('totalCny');
      expect((await post({ ...base, paymentMethods: [] })).body.errors[0].field).toBe('paymentMethods');
      expect((await post({ ...base, paymentMethods: ['paypal', 'paypal'] })).body.errors[0].field).toBe('paymentMethods');
      expect((await post({ ...base, paymentMethods: ['cash'] })).body.errors[0].field).toBe('paymentMethods');
      expect((await post({ ...base, price: fixed('8.0000') })).body.code).toBe('rate_out_of_bounds');

      const noPayout = await withWallet(api, await registerUser(api, 'counterparty'));
      const missing = await post(base, noPayout.token);
      expect(missing.status).toBe(409);
      expect(missing.body.code).toBe('missing_payment_details');
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      expect((await post(base, traveler.token)).status).toBe(403);
    });
  });

  describe('listings', () => {
    it('ranks fixed and floating offers together, best rate first, and moves floating prices with the reference', async () => {
      await setReference('7.2400');
      const maker = await readyCounterparty(api, 'ranker');
      const post = async (price: unknown, paymentMethods = ['paypal']) =>
        (
          await api('POST', '/v1/offers', {
            token: maker.token,
            body: { minCny: '100', maxCny: '1000', totalCny: '1000', price, paymentMethods },
          })
        ).body.id;
      const fixedHigh = await post(fixed('7.3000'));
      const floatPlus50 = await post(floating(50)); // 7.2762 at 7.2400
      const fixedLow = await post(fixed('7.2500'));
      const listMine = async (query = '') =>
        (await api('GET', `/v1/offers?mine=true${query}`, { token: maker.token })).body as {
          data: { id: string; effectiveRate: string }[];
          referenceRate: string;
        };

      let listing = await listMine();
      expect(listing.referenceRate).toBe('7.2400');
      expect(listing.data.map((o) => o.id)).toEqual([fixedHigh, floatPlus50, fixedLow]);
      expect(listing.data[1].effectiveRate).toBe('7.2762');

      await setReference('7.3000'); // +50 bps → 7.3365: now the best
      listing = await listMine();
      expect(listing.data.map((o) => o.id)).toEqual([floatPlus50, fixedHigh, fixedLow]);
      expect(listing.data[0].effectiveRate).toBe('7.3365');

      await setReference('7.2000'); // +50 bps → 7.2360: now the worst
      listing = await listMine();
      expect(listing.data.map((o) => o.id)).toEqual([fixedHigh, fixedLow, floatPlus50]);

      // Rate filters apply to the effective rate.
      listing = await listMine('&minRate=7.2400&maxRate=7.2999');
      expect(listing.data.map((o) => o.id)).toEqual([fixedLow]);
      await setReference('7.2400');
    });

    it('filters offers by payment method, amount, status and owner, and hides suspended makers', async () => {
      await setReference('7.2400');
      const maker = await readyCounterparty(api, 'filters');
      const post = async (body: Record<string, unknown>) =>
        (
          await api('POST', '/v1/offers', {
            token: maker.token,
            body: { minCny: '100', maxCny: '1000', totalCny: '5000', price: fixed('7.4000'), paymentMethods: ['paypal'], ...body },
          })
        ).body.id;
      const bankOnly = await post({ paymentMethods: ['bank_transfer'], price: fixed('7.4100') });
      const big = await post({ minCny: '2000', maxCny: '6000', totalCny: '6000', price: fixed('7.4200') });
      const paused = await post({ price: fixed('7.4300') });
      await api('POST', `/v1/offers/${paused}/pause`, { token: maker.token });
      const traveler = await registerUser(api, 'traveler');
      const ids = async (query: string) =>
        (await api('GET', `/v1/offers?limit=100${query}`, { token: traveler.token })).body.data
          .filter((o: { counterpartyId: string }) => o.counterpartyId === maker.id)
          .map((o: { id: string }) => o.id);

      expect(await ids('')).toEqual([big, bankOnly]);
      expect(await ids('&paymentMethod=paypal')).toEqual([big]);
      expect(await ids('&amountCny=3000')).toEqual([big]);
      expect(await ids('&amountCny=500')).toEqual([bankOnly]);
      expect(await ids('&status=paused')).toEqual([paused]);
      expect((await api('GET', '/v1/offers?amountCny=12.345', { token: traveler.token })).status).toBe(400);

      const operator = await createOperator(test, api);
      await api('POST', `/v1/admin/users/${maker.id}/suspend`, { token: operator.token });
      expect(await ids('')).toEqual([]);
      const own = await api('GET', '/v1/offers?mine=true&limit=100', { token: maker.token });
      expect(own.body.data.map((o: { id: string }) => o.id).sort()).toEqual([big, bankOnly, paused].sort());
      await api('POST', `/v1/admin/users/${maker.id}/unsuspend`, { token: operator.token });
      expect(await ids('')).toEqual([big, bankOnly]);
    });

    it('walks offers page by page with no repeat and nothing missed while offers arrive and the rate moves', async () => {
      await setReference('7.2400');
      const maker = await readyCounterparty(api, 'walker');
      const premiums = [-40, -20, -10, 0, 0, 5, 10, 10, 25, 40];
      const fixedRates = ['7.1500', '7.2000', '7.2290', '7.2400', '7.2400', '7.2472', '7.2500', '7.3000', '7.3200', '7.2110'];
      const created: string[] = [];
      for (const price of [...premiums.map(floating), ...fixedRates.map(fixed)])
        created.push(
          (
            await api('POST', '/v1/offers', {
              token: maker.token,
              body: { minCny: '100', maxCny: '1000', totalCny: '1000', price, paymentMethods: ['paypal'] },
            })
          ).body.id,
        );

      const walked: { id: string; effectiveRate: string; price: { type: string } }[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response: any = await api('GET', `/v1/offers?mine=true&status=active&limit=6${cursor ? `&cursor=${cursor}` : ''}`, {
          token: maker.token,
        });
        expect(response.status).toBe(200);
        expect(response.body.referenceRate).toBe('7.2400');
        walked.push(...response.body.data);
        cursor = response.body.nextCursor;
        pages += 1;
        if (pages === 1) {
          // Mid-walk: the reference moves and new offers arrive, better and worse than the current page.
          await setReference('7.3000');
          for (const r of ['7.3500', '7.1000']) {
            await api('POST', '/v1/offers', {
              token: maker.token,
              body: { minCny: '100', maxCny: '1000', totalCny: '1000', price: fixed(r), paymentMethods: ['paypal'] },
            });
          }
        }
      } while (cursor && pages < 20);

      const ids = walked.map((o) => o.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of created) expect(ids).toContain(id);
      // Every page was ranked at the reference of the first: effective rates never rise along the walk.
      const rates = walked.map((o) => Number(o.effectiveRate.replace('.', '')));
      for (let i = 1; i < rates.length; i += 1) expect(rates[i]).toBeLessThanOrEqual(rates[i - 1]);
      // At equal rates, fixed prices come first.
      for (let i = 1; i < walked.length; i += 1) {
        if (walked[i].effectiveRate === walked[i - 1].effectiveRate && walked[i - 1].price.type === 'floating')
          expect(walked[i].price.type).toBe('floating');
      }
      await setReference('7.2400');
    });

    it('lists requests cheapest first for counterparties and only a traveler’s own for travelers', async () => {
      await setReference('7.2400');
      const traveler = await withWallet(api, await registerUser(api, 'traveler', 'lister'));
      const post = async (price: unknown, amountCny = '1000.00') =>
        (await api('POST', '/v1/requests', { token: traveler.token, body: { amountCny, price, paymentMethod: 'paypal' } })).body.id;
      const high = await post(fixed('7.0100'));
      const low = await post(fixed('6.9000'));
      const mid = await post(floating(-400), '50.00'); // 6.9504
      const mine = await api('GET', '/v1/requests?limit=100', { token: traveler.token });
      expect(mine.body.data.map((r: { id: string }) => r.id)).toEqual([low, mid, high]);

      const counterparty = await registerUser(api, 'counterparty');
      const seen = await api('GET', '/v1/requests?limit=100&maxRate=7.0200', { token: counterparty.token });
      const ofTraveler = seen.body.data
        .filter((r: { travelerId: string }) => r.travelerId === traveler.id)
        .map((r: { id: string }) => r.id);
      expect(ofTraveler).toEqual([low, mid, high]);
      const small = await api('GET', '/v1/requests?limit=100&maxCny=100', { token: counterparty.token });
      expect(small.body.data.filter((r: { travelerId: string }) => r.travelerId === traveler.id).map((r: { id: string }) => r.id)).toEqual([
        mid,
      ]);
      const cancelledView = await api('GET', '/v1/requests?status=cancelled', { token: counterparty.token });
      expect(cancelledView.body.data).toEqual([]);

      // A suspended traveler's requests leave the listings, and come back with the unsuspension.
      const operator = await createOperator(test, api);
      await api('POST', `/v1/admin/users/${traveler.id}/suspend`, { token: operator.token });
      const hidden = await api('GET', '/v1/requests?limit=100', { token: counterparty.token });
      expect(hidden.body.data.filter((r: { travelerId: string }) => r.travelerId === traveler.id)).toEqual([]);
      // Still read by id (accepting it is 409 maker_suspended).
      expect((await api('GET', `/v1/requests/${low}`, { token: counterparty.token })).status).toBe(200);
      expect((await api('GET', '/v1/requests?limit=100', { token: traveler.token })).body.data).toHaveLength(3);
      await api('POST', `/v1/admin/users/${traveler.id}/unsuspend`, { token: operator.token });
      const back = await api('GET', '/v1/requests?limit=100', { token: counterparty.token });
      expect(back.body.data.filter((r: { travelerId: string }) => r.travelerId === traveler.id)).toHaveLength(3);

      const other = await registerUser(api, 'traveler');
      expect((await api('GET', '/v1/requests?limit=100', { token: other.token })).body.data).toEqual([]);
      expect((await api('GET', '/v1/requests?cursor=forged', { token: other.token })).status).toBe(400);
    });
  });
});
