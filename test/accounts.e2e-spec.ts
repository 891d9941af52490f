import { Client } from 'pg';
import { client, Api } from './support/http';
import { createOperator, login, registerUser, TestUser, uniqueEmail } from './support/factories';
import { UsersRepository } from '../src/users/users.repository';
import { eventually, startTestApp, TestApp } from './support/test-app';

describe('accounts and auth (HTTP)', () => {
  let test: TestApp;
  let api: Api;
  let operator: TestUser;

  beforeAll(async () => {
    test = await startTestApp();
    api = client(test.baseUrl);
    operator = await createOperator(test, api);
  });

  afterAll(async () => {
    await test?.close();
  });

  it('registers, signs in and reads /v1/me with the contract fields', async () => {
    const email = uniqueEmail('Alice').toUpperCase();
    const registered = await api('POST', '/v1/auth/register', {
      body: { email, password: 'a long password', displayName: '  Alice  ', role: 'traveler' },
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({
      email: email.toLowerCase(),
      displayName: 'Alice',
      role: 'traveler',
      tier: 0,
      suspended: false,
    });
    expect(registered.body).not.toHaveProperty('passwordHash');

    const signedIn = await api('POST', '/v1/auth/login', { body: { email: email.toLowerCase(), password: 'a long password' } });
    expect(signedIn.status).toBe(200);
    expect(signedIn.body).toEqual({ accessToken: expect.any(String), expiresIn: 3600, tokenType: 'Bearer' });

    const me = await api('GET', '/v1/me', { token: signedIn.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: registered.body.id, email: email.toLowerCase(), displayName: 'Alice', role: 'traveler', tier: 0 });
    expect(me.body.reputation).toEqual({
      completedTrades: 0,
      completionRate: null,
      medianReleaseMinutes: null,
      ratingAverage: null,
      ratingCount: 0,
      disputesLost: 0,
    });
  });

  it('refuses a second account with the same email, whatever its case', async () => {
    const email = uniqueEmail('dup');
    const body = { email, password: 'a long password', displayName: 'Dup', role: 'counterparty' };
    expect((await api('POST', '/v1/auth/register', { body })).status).toBe(201);
    const again = await api('POST', '/v1/auth/register', { body: { ...body, email: email.toUpperCase() } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('email_taken');
  });

  it('answers a wrong password and an unknown email alike, with 401', async () => {
    const user = await registerUser(api, 'traveler');
    const wrong = await api('POST', '/v1/auth/login', { body: { email: user.email, password: 'not the password' } });
    const unknown = await api('POST', '/v1/auth/login', { body: { email: uniqueEmail('nobody'), password: 'not the password' } });
    for (const response of [wrong, unknown]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({ status: 401, code: 'unauthenticated', detail: 'Email or password is wrong' });
    }
  });

  it('never registers an operator, nor any other role', async () => {
    for (const role of ['operator', 'admin', '']) {
      const response = await api('POST', '/v1/auth/register', {
        body: { email: uniqueEmail(), password: 'a long password', displayName: 'X', role },
      });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([expect.objectContaining({ field: 'role' })]);
    }
  });

  it('refuses missing, malformed and forged credentials with 401', async () => {
    const noCredentials = await api('GET', '/v1/me');
    const badToken = await api('GET', '/v1/me', { token: 'not.a.jwt' });
    const forged = await api('GET', '/v1/me', {
      token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAifQ.c2lnbmF0dXJl',
    });
    const badKey = await api('GET', '/v1/me', { apiKey: 'yb_thisisnotakeyatall' });
    for (const response of [noCredentials, badToken, forged, badKey]) {
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('unauthenticated');
    }
  });

  it('issues API keys shown once, usable as X-Api-Key, listed by prefix, revocable', async () => {
    const bot = await registerUser(api, 'counterparty', 'bot');
    const created = await api('POST', '/v1/me/api-keys', { token: bot.token, body: { name: 'trading bot' } });
    expect(created.status).toBe(201);
    const key: string = created.body.key;
    expect(key).toMatch(/^yb_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(created.body.prefix)).toBe(true);

    const me = await api('GET', '/v1/me', { apiKey: key });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(bot.id);

    const listed = await api('GET', '/v1/me/api-keys', { token: bot.token });
    expect(listed.status).toBe(200);
    expect(listed.body.nextCursor).toBeNull();
    expect(listed.body.data).toEqual([
      expect.objectContaining({ id: created.body.id, prefix: created.body.prefix, name: 'trading bot', revokedAt: null }),
    ]);
    expect(listed.text).not.toContain(key);

    const db = new Client({ connectionString: test.databaseUrl });
    await db.connect();
    try {
      const rows = await db.query(`SELECT * FROM api_keys WHERE user_id = $1`, [bot.id]);
      expect(JSON.stringify(rows.rows)).not.toContain(key);
    } finally {
      await db.end();
    }

    const revoked = await api('DELETE', `/v1/me/api-keys/${created.body.id}`, { token: bot.token });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expect((await api('GET', '/v1/me', { apiKey: key })).status).toBe(401);

    const other = await registerUser(api, 'traveler');
    expect((await api('DELETE', `/v1/me/api-keys/${created.body.id}`, { token: other.token })).status).toBe(404);
  });

  it('pages the API key list with a cursor', async () => {
    const user = await registerUser(api, 'counterparty');
    for (let i = 0; i < 3; i += 1)
      expect((await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: `k${i}` } })).status).toBe(201);
    const first = await api('GET', '/v1/me/api-keys?limit=2', { token: user.token });
    expect(first.body.data.map((k: { name: string }) => k.name)).toEqual(['k0', 'k1']);
    const second = await api('GET', `/v1/me/api-keys?limit=2&cursor=${first.body.nextCursor}`, { token: user.token });
    expect(second.body.data.map((k: { name: string }) => k.name)).toEqual(['k2']);
    expect(second.body.nextCursor).toBeNull();
    const forged = [
      'garbage',
      Buffer.from(JSON.stringify({ t: '1', id: '------------------------------------' })).toString('base64url'),
      Buffer.from(JSON.stringify({ t: 'Tue Mar 05 2024 10:00:00', id: '00000000-0000-4000-8000-000000000000' })).toString('base64url'),
      Buffer.from(JSON.stringify({ t: '2024-03-05T10:00:00.000Z', id: 'not-a-uuid' })).toString('base64url'),
      Buffer.from('[1,2]').toString('base64url'),
    ];
    for (const cursor of forged) {
      const bad = await api('GET', `/v1/me/api-keys?cursor=${cursor}`, { token: user.token });
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toBe('cursor');
    }
  });

  it('enforces each role with 403 forbidden', async () => {
    const traveler = await registerUser(api, 'traveler');
    const counterparty = await registerUser(api, 'counterparty');
    const payout = { method: 'paypal', paypalEmail: 'payout@example.com' };

    const travelerPayout = await api('PUT', '/v1/me/payout-account', { token: traveler.token, body: payout });
    expect(travelerPayout.status).toBe(403);
    expect(travelerPayout.body.code).toBe('forbidden');

    const operatorWallet = await api('PUT', '/v1/me/wechat-wallet', { token: operator.token, body: { wechatId: 'wx_operator' } });
    expect(operatorWallet.status).toBe(403);

    for (const user of [traveler, counterparty]) {
      const suspend = await api('POST', `/v1/admin/users/${traveler.id}/suspend`, { token: user.token });
      expect(suspend.status).toBe(403);
      expect(suspend.body.code).toBe('forbidden');
      expect((await api('GET', '/v1/admin/audit', { token: user.token })).status).toBe(403);
    }
    // A wrong role wins over bad input (API.md's precedence: 403 before 400).
    const wrongRoleBadBody = await api('PUT', '/v1/me/payout-account', { token: traveler.token, body: { nonsense: true } });
    expect(wrongRoleBadBody.status).toBe(403);
  });

  it('suspends at once: creation refused with account_suspended, sign-in still works, unsuspend restores', async () => {
    const user = await registerUser(api, 'counterparty');
    const suspended = await api('POST', `/v1/admin/users/${user.id}/suspend`, { token: operator.token });
    expect(suspended.status).toBe(200);
    expect(suspended.body.suspended).toBe(true);

    // The token issued before the suspension is refused for creation on its very next use.
    const refused = await api('POST', '/v1/me/api-keys', { token: user.token, body: {} });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('account_suspended');

    const token = await login(api, user.email, user.password);
    const me = await api('GET', '/v1/me', { token });
    expect(me.status).toBe(200);
    expect(me.body.suspended).toBe(true);
    // Suspension is checked before validation: 403 account_suspended beats 400.
    expect((await api('POST', '/v1/me/api-keys', { token, body: { unknown: 1 } })).body.code).toBe('account_suspended');

    const restored = await api('POST', `/v1/admin/users/${user.id}/unsuspend`, { token: operator.token });
    expect(restored.body.suspended).toBe(false);
    expect((await api('POST', '/v1/me/api-keys', { token, body: {} })).status).toBe(201);
  });

  it('caches who a token is, and drops it at the commit of a change made by any process', async () => {
    const user = await registerUser(api, 'counterparty');
    const reads = jest.spyOn(test.app.get(UsersRepository), 'findPrincipal');
    try {
      expect((await api('GET', '/v1/me', { token: user.token })).status).toBe(200);
      reads.mockClear();
      for (let i = 0; i < 3; i += 1) expect((await api('GET', '/v1/me', { token: user.token })).status).toBe(200);
      expect(reads).not.toHaveBeenCalled();

      // Suspended by a statement from elsewhere (another process, an operator's SQL): this process hears of it
      // from the trigger's notification, well before its cached entry would run out (10 s).
      const other = new Client({ connectionString: test.databaseUrl });
      await other.connect();
      try {
        await other.query(`UPDATE users SET suspended_at = now() WHERE id = $1`, [user.id]);
      } finally {
        await other.end();
      }
      const refused = await eventually(async () => {
        const response = await api('POST', '/v1/me/api-keys', { token: user.token, body: {} });
        return response.status === 403 && response;
      }, 2000);
      expect(refused.body.code).toBe('account_suspended');
      expect(reads).toHaveBeenCalledWith(user.id);
    } finally {
      reads.mockRestore();
    }
  });

  it('sets tiers and audits every operator action', async () => {
    const user = await registerUser(api, 'traveler');
    const tiered = await api('PUT', `/v1/admin/users/${user.id}/tier`, { token: operator.token, body: { tier: 2 } });
    expect(tiered.status).toBe(200);
    expect(tiered.body.tier).toBe(2);
    expect((await api('PUT', `/v1/admin/users/${user.id}/tier`, { token: operator.token, body: { tier: 3 } })).status).toBe(400);
    expect((await api('PUT', `/v1/admin/users/${user.id}/tier`, { token: operator.token, body: { tier: '1' } })).status).toBe(400);
    await api('POST', `/v1/admin/users/${user.id}/suspend`, { token: operator.token });

    const audit = await api('GET', `/v1/admin/audit?operatorId=${operator.id}`, { token: operator.token });
    expect(audit.status).toBe(200);
    const mine = audit.body.data.filter((entry: { targetId: string }) => entry.targetId === user.id);
    expect(mine).toEqual([
      expect.objectContaining({ action: 'user.set_tier', operatorId: operator.id, detail: { fromTier: 0, toTier: 2 } }),
      expect.objectContaining({ action: 'user.suspend', operatorId: operator.id }),
    ]);
    expect((await api('POST', '/v1/admin/users/00000000-0000-4000-8000-000000000000/suspend', { token: operator.token })).status).toBe(404);

    const view = await api('GET', `/v1/admin/users/${user.id}`, { token: operator.token });
    expect(view.body).toMatchObject({ id: user.id, tier: 2, suspended: true, disputes: { won: 0, lost: 0 } });

    // The audit log cannot be edited, even by the service's own database user.
    const db = new Client({ connectionString: test.databaseUrl });
    await db.connect();
    try {
      await expect(db.query(`UPDATE audit_log SET action = 'rewritten'`)).rejects.toThrow('append-only');
      await expect(db.query(`DELETE FROM audit_log`)).rejects.toThrow('append-only');
    } finally {
      await db.end();
    }
  });

  it('shows a public profile without email or payment handles', async () => {
    const user = await registerUser(api, 'counterparty', 'Carol');
    const viewer = await registerUser(api, 'traveler');
    const profile = await api('GET', `/v1/users/${user.id}`, { token: viewer.token });
    expect(profile.status).toBe(200);
    expect(Object.keys(profile.body).sort()).toEqual(['displayName', 'id', 'reputation', 'role']);
    expect((await api('GET', '/v1/users/00000000-0000-4000-8000-000000000000', { token: viewer.token })).status).toBe(404);
  });

  it('keeps payment handles encrypted in the database and out of responses and logs', async () => {
    const user = await registerUser(api, 'counterparty');
    const wechatId = `wxHandle${Date.now().toString(36)}`;
    const paypalEmail = `payout-${Date.now().toString(36)}@paypal-example.com`;
    const wallet = await api('PUT', '/v1/me/wechat-wallet', { token: user.token, body: { wechatId } });
    expect(wallet.status).toBe(200);
    expect(wallet.body.wechatWalletSet).toBe(true);
    const payout = await api('PUT', '/v1/me/payout-account', { token: user.token, body: { method: 'paypal', paypalEmail } });
    expect(payout.status).toBe(200);
    expect(payout.body.payoutAccount).toEqual({ method: 'paypal' });
    expect(wallet.text + payout.text).not.toMatch(new RegExp(`${wechatId}|${paypalEmail}`, 'i'));

    const invalid = await api('PUT', '/v1/me/wechat-wallet', { token: user.token, body: { wechatId: '1startsWithDigit' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors[0].field).toBe('wechatId');
    expect(invalid.text).not.toContain('1startsWithDigit');

    const db = new Client({ connectionString: test.databaseUrl });
    await db.connect();
    try {
      const row = (await db.query(`SELECT * FROM users WHERE id = $1`, [user.id])).rows[0];
      expect(row.wechat_id_ciphertext).toEqual(expect.any(String));
      expect(row.wechat_id_key_id).toBe('dev1');
      expect(row.paypal_email_index).toMatch(/^[0-9a-f]{64}$/);
      const dump = (await db.query(`SELECT row_to_json(t)::text AS j FROM (SELECT * FROM users) t`)).rows.map((r) => r.j).join('\n');
      expect(dump.toLowerCase()).not.toContain(wechatId.toLowerCase());
      expect(dump.toLowerCase()).not.toContain(paypalEmail.toLowerCase());
    } finally {
      await db.end();
    }

    const log = test.readLog();
    expect(log).toContain('request completed');
    expect(log).toContain('/v1/me/wechat-wallet');
    expect(log.toLowerCase()).not.toContain(wechatId.toLowerCase());
    expect(log.toLowerCase()).not.toContain(paypalEmail.toLowerCase());
    expect(log).not.toContain(user.token);
    expect(log).not.toContain(user.password);
  });
});
