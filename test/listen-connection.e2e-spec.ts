import { DataSource } from 'typeorm';
import { LISTEN_APPLICATION_NAME } from '../src/database/notifications';
import { OutboxService } from '../src/outbox/outbox.service';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { RatesService } from '../src/rates/rates.service';
import { createOperator, registerUser, TestUser } from './support/factories';
import { Api, client } from './support/http';
import { quietRates } from './support/settings';
import { eventually, startTestApp, TestApp } from './support/test-app';
import { useTestApp } from './support/use-test-app';

/** The second process listens through `DATABASE_LISTEN_URL`: the same database, spelt another way, named apart. */
const OTHER_LISTEN_NAME = 'yuanbridge-listen-other';

/**
 * Each process has one listening connection, shared by the principal cache, the listing cache and the outbox relay.
 * Caches live a minute and the relay polls hourly here: whatever a test sees at once came from a notification.
 */
describe('the shared listening connection (HTTP)', () => {
  const settings = { ...quietRates, RATE_FEED_BASE: '7.2400', PRINCIPAL_CACHE_MS: '60000', LISTING_CACHE_MS: '60000' };
  const { test, api, db } = useTestApp({ ...settings, OUTBOX_POLL_INTERVAL_MS: '3600000', OUTBOX_PUBLISH_AFTER_COMMIT: 'false' });
  let other: TestApp;
  let otherApi: Api;

  beforeAll(async () => {
    await test.app.get(RatesService).record(72400n, new Date(), 'test');
    const listenUrl = new URL(test.databaseUrl.replace(/^postgres:/, 'postgresql:'));
    listenUrl.searchParams.set('application_name', OTHER_LISTEN_NAME);
    other = await startTestApp({ ...settings, DATABASE_LISTEN_URL: listenUrl.toString() }, test, { workers: false });
    otherApi = client(other.baseUrl);
  });

  afterAll(async () => {
    await other?.close();
  });

  /** The backends this test's database serves under `name`. */
  async function listeners(name: string): Promise<{ pid: number; query: string; state: string }[]> {
    const { rows } = await db.query(
      `SELECT pid, query, state FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
      [name],
    );
    return rows;
  }

  async function readyMaker(): Promise<TestUser> {
    const user = await registerUser(api, 'counterparty', 'listening-maker');
    const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    expect((await api('PUT', '/v1/me/wechat-wallet', { token: user.token, body: { wechatId: `wx_${stamp}` } })).status).toBe(200);
    const payout = await api('PUT', '/v1/me/payout-account', {
      token: user.token,
      body: { method: 'paypal', paypalEmail: `maker-${stamp}@example.com` },
    });
    expect(payout.status).toBe(200);
    return user;
  }

  const offer = (rate: string) => ({
    minCny: '100',
    maxCny: '1000',
    totalCny: '5000',
    price: { type: 'fixed', rate },
    paymentMethods: ['paypal'],
  });

  /** A write no trigger notifies: what the process then shows comes from its cache, trusted only while it listens. */
  async function unnotified(sql: string, params: unknown[]): Promise<void> {
    await db.query(`SET session_replication_role = replica`);
    try {
      await db.query(sql, params);
    } finally {
      await db.query(`RESET session_replication_role`);
    }
  }

  it('is one connection per process, opened from DATABASE_LISTEN_URL when it is set', async () => {
    expect(await listeners(LISTEN_APPLICATION_NAME)).toHaveLength(1);
    expect(await listeners(OTHER_LISTEN_NAME)).toHaveLength(1);

    // The other process hears this one's writes through it: its cached page is dropped at a new offer.
    const maker = await readyMaker();
    const traveler = await registerUser(api, 'traveler');
    const page = async () =>
      ((await otherApi('GET', '/v1/offers?limit=50', { token: traveler.token })).body.data as { id: string; counterpartyId: string }[])
        .filter((o) => o.counterpartyId === maker.id)
        .map((o) => o.id);
    expect(await page()).toEqual([]);
    const first = (await api('POST', '/v1/offers', { token: maker.token, body: offer('7.4000') })).body.id as string;
    await eventually(async () => (await page()).length === 1);
    expect(await page()).toEqual([first]);
    const second = (await api('POST', '/v1/offers', { token: maker.token, body: offer('7.4100') })).body.id as string;
    await eventually(async () => (await page()).length === 2);
    expect(await page()).toEqual([second, first]);
  });

  it('after its backend is terminated, reconnects and serves the caches and the relay again', async () => {
    const [killed] = await listeners(LISTEN_APPLICATION_NAME);
    const boss = await createOperator(test, api);
    const operator = await createOperator(test, api);
    const maker = await readyMaker();
    const traveler = await registerUser(api, 'traveler');
    const first = (await api('POST', '/v1/offers', { token: maker.token, body: offer('7.4000') })).body.id as string;

    const { rows } = await db.query(`SELECT pg_terminate_backend($1) AS terminated`, [killed.pid]);
    expect(rows[0].terminated).toBe(true);
    // A new backend, LISTENing again on all three channels in one statement.
    await eventually(async () => {
      const now = await listeners(LISTEN_APPLICATION_NAME);
      return now.length === 1 && now[0].pid !== killed.pid && now[0].state === 'idle' && now[0].query.includes('LISTEN');
    });
    const [again] = await listeners(LISTEN_APPLICATION_NAME);
    for (const channel of ['principal_changed', 'listings_changed', 'yb_outbox']) expect(again.query).toContain(channel);

    // The principal cache trusts its entries again: a suspension no trigger announces goes unseen.
    const probe = () => api('GET', `/v1/admin/users/${maker.id}`, { token: operator.token });
    await eventually(async () => {
      if ((await probe()).status !== 200) return false;
      await unnotified(`UPDATE users SET suspended_at = now() WHERE id = $1`, [operator.id]);
      const cached = (await probe()).status === 200;
      await unnotified(`UPDATE users SET suspended_at = NULL WHERE id = $1`, [operator.id]);
      return cached;
    });
    // A suspension made by the other process takes effect here at once.
    expect((await otherApi('POST', `/v1/admin/users/${operator.id}/suspend`, { token: boss.token })).status).toBe(200);
    await eventually(async () => (await probe()).body.code === 'account_suspended');

    // The listing cache trusts its pages again: a maker's new name (never notified) goes unseen...
    const page = async () =>
      (
        (await api('GET', '/v1/offers?limit=50', { token: traveler.token })).body.data as {
          id: string;
          counterpartyId: string;
          maker: { displayName: string };
        }[]
      ).filter((o) => o.counterpartyId === maker.id);
    await eventually(async () => {
      const shown = (await page())[0]?.maker.displayName;
      await db.query(`UPDATE users SET display_name = $2 WHERE id = $1`, [maker.id, `Renamed ${Date.now()}`]);
      return shown !== undefined && (await page())[0].maker.displayName === shown;
    });
    // ...while an offer posted through the other process appears here at once.
    const second = (await otherApi('POST', '/v1/offers', { token: maker.token, body: offer('7.4100') })).body.id as string;
    await eventually(async () => (await page()).length === 2);
    expect((await page()).map((o) => o.id)).toEqual([second, first]);

    // The relay, polling hourly, is woken by the next committed row.
    const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
    await test.app.get(DataSource).transaction((manager) =>
      test.app.get(OutboxService).write(manager, {
        queue: QUEUES.housekeeping,
        jobName: JOBS.housekeeping.purgeIdempotencyKeys,
        jobId: 'woken-after-reconnect',
        payload: { reason: 'test' },
        delayMs: 0,
      }),
    );
    await eventually(async () => (await queue.getJob('woken-after-reconnect')) !== undefined);
  });
});
