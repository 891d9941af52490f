import { createOperator, login, registerUser, TestUser } from './support/factories';
import { fixed, readyCounterparty, readyTraveler, wechatId } from './support/market';
import { eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';

/**
 * API keys as a thief of one would use them, and operators who are suspended: a key never begets or revokes a
 * key, a scoped key does only what its scope allows, an expired key is refused, and a suspended operator's
 * token, key and console session are all refused until another operator lifts the suspension.
 */
describe('API keys (HTTP)', () => {
  const { test, api } = useTestApp({}, { reference: '7.2400' });

  async function newKey(user: TestUser, body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const created = await api('POST', '/v1/me/api-keys', { token: user.token, body });
    if (created.status !== 201) throw new Error(`api key: ${created.status} ${created.text}`);
    return created.body;
  }

  const requestBody = { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'paypal' };

  it('a key can neither mint nor revoke a key, so a leaked key dies with its revocation', async () => {
    const user = await registerUser(api, 'traveler');
    const leaked = await newKey(user, { name: 'leaked' });
    const other = await newKey(user, { name: 'other' });

    const minted = await api('POST', '/v1/me/api-keys', { apiKey: leaked.key, body: { name: 'backdoor' } });
    expect(minted.status).toBe(403);
    expect(minted.body.code).toBe('forbidden');
    for (const id of [leaked.id, other.id]) {
      const revoked = await api('DELETE', `/v1/me/api-keys/${id}`, { apiKey: leaked.key });
      expect(revoked.status).toBe(403);
      expect(revoked.body.code).toBe('forbidden');
    }
    // Nothing was made or revoked by those calls.
    const listed = await api('GET', '/v1/me/api-keys', { token: user.token });
    expect(listed.body.data.map((k: { name: string; revokedAt: string | null }) => [k.name, k.revokedAt])).toEqual([
      ['leaked', null],
      ['other', null],
    ]);

    // The owner revokes it with a password sign-in's token: the key is dead.
    expect((await api('DELETE', `/v1/me/api-keys/${leaked.id}`, { token: user.token })).status).toBe(200);
    const refused = await api('GET', '/v1/me', { apiKey: leaked.key });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('unauthenticated');
  });

  it('a read key only reads; a trade key trades but manages nothing; a key without scope does all its owner may', async () => {
    const traveler = await readyTraveler(api);
    const read = await newKey(traveler, { name: 'dashboard', scope: 'read' });
    const trade = await newKey(traveler, { name: 'bot', scope: 'trade' });
    const full = await newKey(traveler, { name: 'legacy' });

    // read: GET and HEAD, nothing else (403 `forbidden`, before validation).
    expect((await api('GET', '/v1/me', { apiKey: read.key })).status).toBe(200);
    expect((await api('GET', '/v1/requests', { apiKey: read.key })).status).toBe(200);
    expect((await api('HEAD', '/v1/requests', { apiKey: read.key })).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/v1/requests', requestBody],
      ['POST', '/v1/requests', { bad: true }],
      ['PUT', '/v1/me/wechat-wallet', { wechatId: wechatId() }],
    ] as const) {
      const refused = await api(method, path, { apiKey: read.key, body });
      expect([method, path, refused.status, refused.body.code]).toEqual([method, path, 403, 'forbidden']);
    }

    // trade: creates and cancels, but cannot change where money goes.
    const posted = await api('POST', '/v1/requests', { apiKey: trade.key, body: requestBody });
    expect(posted.status).toBe(201);
    expect((await api('POST', `/v1/requests/${posted.body.id}/cancel`, { apiKey: trade.key })).status).toBe(200);
    const wallet = await api('PUT', '/v1/me/wechat-wallet', { apiKey: trade.key, body: { wechatId: wechatId() } });
    expect(wallet.status).toBe(403);
    expect(wallet.body.code).toBe('forbidden');
    // Nor read the handles in clear, nor end the account, whatever the scope.
    for (const key of [read.key, trade.key]) {
      expect((await api('GET', '/v1/me/export', { apiKey: key })).status).toBe(403);
      expect((await api('DELETE', '/v1/me', { apiKey: key, body: { password: traveler.password } })).status).toBe(403);
    }
    expect((await api('GET', '/v1/me/export', { apiKey: full.key })).status).toBe(200);

    // No scope: full access, as keys had before scopes (the traveler has nothing live, so the wallet may change).
    expect((await api('PUT', '/v1/me/wechat-wallet', { apiKey: full.key, body: { wechatId: wechatId() } })).status).toBe(200);
    expect((await api('POST', '/v1/requests', { apiKey: full.key, body: requestBody })).status).toBe(201);

    // A counterparty's trade key cannot change its payout account either.
    const counterparty = await readyCounterparty(api);
    const cpTrade = await newKey(counterparty, { scope: 'trade' });
    const payout = await api('PUT', '/v1/me/payout-account', {
      apiKey: cpTrade.key,
      body: { method: 'paypal', paypalEmail: 'thief@example.com' },
    });
    expect(payout.status).toBe(403);

    // The list shows prefix, scope, expiry and last use, never the key.
    const listed = await api('GET', '/v1/me/api-keys', { apiKey: read.key });
    expect(listed.status).toBe(200);
    const byName = Object.fromEntries(listed.body.data.map((k: { name: string }) => [k.name, k]));
    expect(byName.dashboard).toEqual({
      id: read.id,
      prefix: read.key.slice(0, 11),
      name: 'dashboard',
      scope: 'read',
      expiresAt: null,
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String),
      revokedAt: null,
    });
    expect(byName.bot.scope).toBe('trade');
    expect(byName.legacy.scope).toBeNull();
    for (const key of [read.key, trade.key, full.key]) expect(listed.text).not.toContain(key);

    const badScope = await api('POST', '/v1/me/api-keys', { token: traveler.token, body: { scope: 'admin' } });
    expect(badScope.status).toBe(400);
    expect(badScope.body.errors.map((e: { field: string }) => e.field)).toEqual(['scope']);
  });

  it('an operator key scoped to trade cannot suspend users or change tiers; a read key cannot post', async () => {
    const operator = await createOperator(test, api);
    const target = await registerUser(api, 'traveler');
    const trade = await newKey(operator, { scope: 'trade' });
    const read = await newKey(operator, { scope: 'read' });
    for (const key of [trade.key, read.key]) {
      expect((await api('POST', `/v1/admin/users/${target.id}/suspend`, { apiKey: key })).body.code).toBe('forbidden');
      expect((await api('PUT', `/v1/admin/users/${target.id}/tier`, { apiKey: key, body: { tier: 2 } })).body.code).toBe('forbidden');
    }
    expect((await api('GET', `/v1/admin/users/${target.id}`, { apiKey: read.key })).status).toBe(200);
    expect((await api('GET', `/v1/admin/users/${target.id}`, { apiKey: trade.key })).status).toBe(200);
    expect((await api('GET', `/v1/admin/users/${target.id}`, { token: operator.token })).body.suspended).toBe(false);
  });

  it('an expired key is refused with 401; expiry is given in days or as a time, in the future', async () => {
    const user = await registerUser(api, 'traveler');
    const soon = await newKey(user, { name: 'short', expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect((await api('GET', '/v1/me', { apiKey: soon.key })).status).toBe(200);
    const expired = await eventually(async () => {
      const response = await api('GET', '/v1/me', { apiKey: soon.key });
      return response.status !== 200 && response;
    }, 10000);
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe('unauthenticated');

    const monthly = await newKey(user, { name: 'monthly', expiresInDays: 30 });
    const listed = await api('GET', '/v1/me/api-keys', { token: user.token });
    const row = listed.body.data.find((k: { id: string }) => k.id === monthly.id);
    const days = (Date.parse(row.expiresAt) - Date.now()) / 86400000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    expect((await api('GET', '/v1/me', { apiKey: monthly.key })).status).toBe(200);

    for (const body of [
      { expiresAt: new Date(Date.now() - 1000).toISOString() },
      { expiresAt: 'tomorrow' },
      { expiresInDays: 0 },
      { expiresInDays: 1.5 },
      { expiresInDays: 5000 },
      { expiresInDays: 1, expiresAt: new Date(Date.now() + 86400000).toISOString() },
    ]) {
      const refused = await api('POST', '/v1/me/api-keys', { token: user.token, body });
      expect([body, refused.status, refused.body.code]).toEqual([body, 400, 'validation_failed']);
    }
  });
});

describe('suspended operators (HTTP)', () => {
  const { test, api } = useTestApp();

  async function consoleCookie(operator: TestUser): Promise<string> {
    const session = await api('POST', '/v1/auth/session', { body: { email: operator.email, password: operator.password } });
    if (session.status !== 204) throw new Error(`session: ${session.status} ${session.text}`);
    return session.headers.get('set-cookie')!.split(';')[0];
  }

  it("refuses a suspended operator's token, API key and console session until another operator lifts it; audited", async () => {
    const boss = await createOperator(test, api);
    const leaver = await createOperator(test, api);
    const key = (await api('POST', '/v1/me/api-keys', { token: leaver.token, body: { name: 'ops script' } })).body.key as string;
    const cookie = await consoleCookie(leaver);
    const target = await registerUser(api, 'traveler');
    // Before: everything works.
    expect((await api('GET', '/v1/admin/disputes', { token: leaver.token })).status).toBe(200);
    expect((await api('GET', '/v1/admin/disputes', { apiKey: key })).status).toBe(200);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(200);

    const suspended = await api('POST', `/v1/admin/users/${leaver.id}/suspend`, { token: boss.token });
    expect(suspended.status).toBe(200);
    expect(suspended.body).toMatchObject({ id: leaver.id, role: 'operator', suspended: true });

    // After: the operator may not act at all, by any credential, reads included.
    for (const credentials of [{ token: leaver.token }, { apiKey: key }]) {
      for (const [method, path] of [
        ['GET', '/v1/admin/disputes'],
        ['GET', '/v1/me'],
        ['POST', `/v1/admin/users/${target.id}/suspend`],
        ['POST', `/v1/admin/users/${boss.id}/suspend`],
        ['POST', `/v1/admin/users/${leaver.id}/unsuspend`],
      ]) {
        const refused = await api(method, path, credentials);
        expect([method, path, refused.status, refused.body.code]).toEqual([method, path, 403, 'account_suspended']);
      }
    }
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(403);
    expect((await api('GET', '/admin/queues/api/queues', { token: leaver.token })).status).toBe(403);
    // A new token is no better, and no new console session is opened.
    const fresh = await login(api, leaver.email, leaver.password);
    expect((await api('GET', '/v1/admin/disputes', { token: fresh })).body.code).toBe('account_suspended');
    const session = await api('POST', '/v1/auth/session', { body: { email: leaver.email, password: leaver.password } });
    expect(session.status).toBe(403);
    expect(session.body.code).toBe('account_suspended');
    expect(session.headers.get('set-cookie')).toBeNull();
    // Nothing the suspended operator tried happened.
    expect((await api('GET', `/v1/admin/users/${target.id}`, { token: boss.token })).body.suspended).toBe(false);
    expect((await api('GET', `/v1/admin/users/${boss.id}`, { token: boss.token })).body.suspended).toBe(false);

    // Lifting the suspension restores the token and the key; the console session ended with the suspension.
    expect((await api('POST', `/v1/admin/users/${leaver.id}/unsuspend`, { token: boss.token })).body.suspended).toBe(false);
    expect((await api('GET', '/v1/admin/disputes', { token: leaver.token })).status).toBe(200);
    expect((await api('GET', '/v1/admin/disputes', { apiKey: key })).status).toBe(200);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(403);
    expect((await api('GET', '/admin/queues/api/queues', { headers: { cookie: await consoleCookie(leaver) } })).status).toBe(200);

    const audit = await api('GET', `/v1/admin/audit?operatorId=${boss.id}`, { token: boss.token });
    expect(audit.body.data.filter((e: { targetId: string }) => e.targetId === leaver.id).map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['user.suspend', 'user.unsuspend']),
    );
    // The refused attempts left no audit entry.
    expect((await api('GET', `/v1/admin/audit?operatorId=${leaver.id}`, { token: boss.token })).body.data).toEqual([]);
  });

  it('an operator cannot suspend themselves (403 forbidden), by token or key, and nothing is recorded', async () => {
    const operator = await createOperator(test, api);
    const key = (await api('POST', '/v1/me/api-keys', { token: operator.token, body: {} })).body.key as string;
    for (const credentials of [{ token: operator.token }, { apiKey: key }]) {
      const refused = await api('POST', `/v1/admin/users/${operator.id}/suspend`, credentials);
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('forbidden');
    }
    expect((await api('GET', '/v1/me', { token: operator.token })).body.suspended).toBe(false);
    expect((await api('GET', `/v1/admin/audit?operatorId=${operator.id}`, { token: operator.token })).body.data).toEqual([]);
  });

  it('two operators suspending each other at once: one wins, one operator is always left', async () => {
    const a = await createOperator(test, api);
    const b = await createOperator(test, api);
    const results = await Promise.all([
      api('POST', `/v1/admin/users/${b.id}/suspend`, { token: a.token }),
      api('POST', `/v1/admin/users/${a.id}/suspend`, { token: b.token }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 403]);
    const states = await Promise.all(
      [a, b].map(async (operator) => (await api('GET', '/v1/me', { token: operator.token })).status === 200),
    );
    expect(states.filter(Boolean)).toHaveLength(1);
  });
});
