import { RatesService } from '../src/rates/rates.service';
import { createOperator, registerUser, TestUser } from './support/factories';
import { Api } from './support/http';
import { eventually } from './support/test-app';
import { quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

/**
 * The first pages of the public listings are cached per process. Here a page lives for a minute, so every
 * change a test sees came from an invalidation, never from a page growing old.
 */
async function readyCounterparty(api: Api): Promise<TestUser> {
  const user = await registerUser(api, 'counterparty', 'cached-maker');
  const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const wallet = await api('PUT', '/v1/me/wechat-wallet', { token: user.token, body: { wechatId: `wx_${stamp}` } });
  if (wallet.status !== 200) throw new Error(`wallet: ${wallet.text}`);
  const payout = await api('PUT', '/v1/me/payout-account', {
    token: user.token,
    body: { method: 'paypal', paypalEmail: `maker-${stamp}@example.com` },
  });
  if (payout.status !== 200) throw new Error(`payout: ${payout.text}`);
  return user;
}

describe('listing cache (HTTP)', () => {
  const { test, api, db } = useTestApp({ ...quietRates, RATE_FEED_BASE: '7.2400', LISTING_CACHE_MS: '60000' });

  beforeAll(async () => {
    await test.app.get(RatesService).record(72400n, new Date(), 'test');
  });

  it('serves a first page again, and drops it at once for a new offer, a suspension and another process’s write', async () => {
    const maker = await readyCounterparty(api);
    const traveler = await registerUser(api, 'traveler');
    const post = async (rate: string) =>
      (
        await api('POST', '/v1/offers', {
          token: maker.token,
          body: { minCny: '100', maxCny: '1000', totalCny: '5000', price: { type: 'fixed', rate }, paymentMethods: ['paypal'] },
        })
      ).body.id as string;
    const page = async () =>
      (await api('GET', '/v1/offers?limit=50', { token: traveler.token })).body.data.filter(
        (o: { counterpartyId: string }) => o.counterpartyId === maker.id,
      ) as { id: string; availableCny: string; maker: { displayName: string } }[];

    const first = await post('7.4000');
    const before = await page();
    expect(before.map((o) => o.id)).toEqual([first]);

    // A maker's name is not notified: the cached page still shows the old one (the staleness LISTING_CACHE_MS bounds).
    await db.query(`UPDATE users SET display_name = 'Renamed maker' WHERE id = $1`, [maker.id]);
    expect((await page())[0].maker.displayName).toBe(before[0].maker.displayName);

    // A new offer from this process is listed in the answer right after its creation.
    const second = await post('7.4100');
    expect((await page()).map((o) => o.id)).toEqual([second, first]);

    // A suspension hides the maker's offers at once, and the unsuspension brings them back.
    const operator = await createOperator(test, api);
    expect((await api('POST', `/v1/admin/users/${maker.id}/suspend`, { token: operator.token })).status).toBe(200);
    expect(await page()).toEqual([]);
    expect((await api('POST', `/v1/admin/users/${maker.id}/unsuspend`, { token: operator.token })).status).toBe(200);
    expect((await page()).map((o) => o.id)).toEqual([second, first]);

    // A write this process did not make (a worker, another API process) arrives by notification.
    await db.query(`UPDATE offers SET available_cny = 250000 WHERE id = $1`, [first]);
    await eventually(async () => (await page()).find((o) => o.id === first)?.availableCny === '2500.00');
  });
});
