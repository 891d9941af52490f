import { RatesService } from '../../src/rates/rates.service';
import { registerUser, TestUser } from './factories';
import type { Api } from './http';
import type { TestApp } from './test-app';

let handleSeq = 0;

/** A fresh, valid WeChat id. */
export function wechatId(): string {
  handleSeq += 1;
  return `wx_${Date.now().toString(36)}${handleSeq}`;
}

export async function withWallet(api: Api, user: TestUser, id = wechatId()): Promise<TestUser> {
  const wallet = await api('PUT', '/v1/me/wechat-wallet', { token: user.token, body: { wechatId: id } });
  if (wallet.status !== 200) throw new Error(`wallet: ${wallet.text}`);
  return user;
}

/** A counterparty with everything a trade needs on file. */
export async function readyCounterparty(api: Api, label = 'counterparty'): Promise<TestUser> {
  const user = await withWallet(api, await registerUser(api, 'counterparty', label));
  handleSeq += 1;
  const payout = await api('PUT', '/v1/me/payout-account', {
    token: user.token,
    body: { method: 'paypal', paypalEmail: `${label}-${Date.now()}-${handleSeq}@example.com` },
  });
  if (payout.status !== 200) throw new Error(`payout: ${payout.text}`);
  return user;
}

export async function readyTraveler(api: Api, label = 'traveler'): Promise<TestUser> {
  return withWallet(api, await registerUser(api, 'traveler', label));
}

/** Records a reference rate as the feed would, e.g. "7.2400". */
export async function setReference(test: TestApp, rate: string): Promise<void> {
  const [whole, decimals = ''] = rate.split('.');
  await test.app.get(RatesService).record(BigInt(whole) * 10000n + BigInt(decimals.padEnd(4, '0')), new Date(), 'test');
}

export const fixed = (rate: string) => ({ type: 'fixed', rate });
export const floating = (premiumBps: number) => ({ type: 'floating', premiumBps });

/**
 * `count` users made `batch` at a time: a race test races its accepts or takes, not the sign-ups before them
 * (fifty registrations at once queue their password hashes and can wait out the pool's connect timeout on a
 * loaded machine, answered 503 service_busy).
 */
export async function readyUsers(count: number, make: (i: number) => Promise<TestUser>, batch = 10): Promise<TestUser[]> {
  const users: TestUser[] = [];
  for (let start = 0; start < count; start += batch) {
    users.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - start) }, (_, i) => make(start + i)))));
  }
  return users;
}
