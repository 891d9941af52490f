import { Client } from 'pg';
import { FieldEncryption } from '../src/common/crypto/field-encryption';
import { hashBody } from '../src/idempotency/canonical-json';
import { RESPONSE_CONTEXT } from '../src/idempotency/idempotency.interceptor';
import { IdempotencyRepository } from '../src/idempotency/idempotency.repository';
import { registerUser, TestUser } from './support/factories';
import { fixed, readyCounterparty, readyTraveler, setReference } from './support/market';
import { eventually } from './support/test-app';
import type { ApiResponse } from './support/http';
import { useTestApp } from './support/use-test-app';

describe('Idempotency-Key (HTTP)', () => {
  // A short statement timeout lets a test make the database fail one request on purpose.
  // Long enough for the tests that hold a request on a lock while they act, on a slow machine; short enough that the
  // one that waits it out (a 5xx) stays quick.
  const { test, api, db, operator } = useTestApp({ DATABASE_STATEMENT_TIMEOUT_MS: '4000' }, { operator: true });

  async function keyCount(userId: string): Promise<number> {
    return (await db.query(`SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1`, [userId])).rows[0].n;
  }

  it('replays the first response with Idempotent-Replayed and no second effect', async () => {
    const user = await registerUser(api, 'counterparty');
    const first = await api('POST', '/v1/me/api-keys', {
      token: user.token,
      body: { name: 'bot' },
      headers: { 'idempotency-key': 'create-bot-key' },
    });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    // The same body with its keys in another order is the same request.
    const replay = await api('POST', '/v1/me/api-keys', {
      token: user.token,
      rawBody: '{ "name" : "bot" }',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'create-bot-key' },
    });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // The key is shown once: the replay is the same key's record without it.
    const { key, ...shown } = first.body;
    expect(key).toEqual(expect.any(String));
    expect(replay.body).toEqual(shown);
    expect(replay.text).not.toContain(key);
    expect(await keyCount(user.id)).toBe(1);

    // Nor is it stored, even encrypted.
    const stored = await db.query(
      `SELECT response_ciphertext AS ciphertext, response_key_id AS "keyId" FROM idempotency_keys WHERE owner_id = $1`,
      [user.id],
    );
    const response = JSON.parse(test.app.get(FieldEncryption).decrypt(stored.rows[0], RESPONSE_CONTEXT));
    expect(response).toEqual(shown);
  });

  it('refuses the same key with another body, or on another path, with 422', async () => {
    const user = await registerUser(api, 'counterparty');
    const headers = { 'idempotency-key': 'k-422' };
    expect((await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'one' }, headers })).status).toBe(201);
    const otherBody = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'two' }, headers });
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.code).toBe('idempotency_key_reused');
    expect(await keyCount(user.id)).toBe(1);

    const target = await registerUser(api, 'traveler');
    const other = await registerUser(api, 'traveler');
    const opHeaders = { 'idempotency-key': 'suspend-1' };
    expect((await api('POST', `/v1/admin/users/${target.id}/suspend`, { token: operator.token, headers: opHeaders })).status).toBe(200);
    const otherPath = await api('POST', `/v1/admin/users/${other.id}/suspend`, { token: operator.token, headers: opHeaders });
    expect(otherPath.status).toBe(422);
    expect((await api('GET', `/v1/admin/users/${other.id}`, { token: operator.token })).body.suspended).toBe(false);
  });

  it('lets validation win over a reused key (400 before 422)', async () => {
    const user = await registerUser(api, 'counterparty');
    const headers = { 'idempotency-key': 'k-precedence' };
    expect((await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'one' }, headers })).status).toBe(201);
    const invalid = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 5 }, headers });
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe('validation_failed');
    const badPath = await api('POST', '/v1/admin/users/not-a-uuid/suspend', {
      token: operator.token,
      headers: { 'idempotency-key': 'suspend-1' },
    });
    expect(badPath.status).toBe(400);
  });

  it('runs 20 concurrent requests with one key exactly once', async () => {
    const user = await registerUser(api, 'counterparty');
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'race' }, headers: { 'idempotency-key': 'race-key' } }),
      ),
    );
    const executed = responses.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
    const replayed = responses.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === 'true');
    const inFlight = responses.filter((r) => r.status === 409);
    expect(executed).toHaveLength(1);
    expect(replayed.length + inFlight.length).toBe(19);
    for (const r of inFlight) expect(r.body.code).toBe('idempotency_key_in_use');
    for (const r of replayed) expect(r.body.id).toBe(executed[0].body.id);
    expect(await keyCount(user.id)).toBe(1);
  });

  it('stores a 4xx from the handler and replays it', async () => {
    const missing = '00000000-0000-4000-8000-000000000001';
    const headers = { 'idempotency-key': 'suspend-missing' };
    const first = await api('POST', `/v1/admin/users/${missing}/suspend`, { token: operator.token, headers });
    expect(first.status).toBe(404);
    const replay = await api('POST', `/v1/admin/users/${missing}/suspend`, { token: operator.token, headers });
    expect(replay.status).toBe(404);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('content-type')).toContain('application/problem+json');
    expect(replay.body.code).toBe('not_found');
  });

  it('does not keep a 5xx: a retry with the same key runs again', async () => {
    const user = await registerUser(api, 'counterparty');
    const headers = { 'idempotency-key': 'k-5xx' };
    const locker = new Client({ connectionString: test.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      const failed = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'retry' }, headers });
      // The statement timed out waiting for the lock: load, answered 503 service_busy (a 5xx all the same).
      expect(failed.status).toBe(503);
      expect(failed.body).toMatchObject({ code: 'service_busy' });
      expect(failed.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(failed.text).not.toMatch(/api_keys|statement|timeout|QueryFailed/i);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const retried = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'retry' }, headers });
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await keyCount(user.id)).toBe(1);
  });

  it('scopes keys to the caller, and ignores them on anonymous endpoints', async () => {
    const a = await registerUser(api, 'counterparty');
    const b = await registerUser(api, 'counterparty');
    const headers = { 'idempotency-key': 'shared-key' };
    expect((await api('POST', '/v1/me/api-keys', { token: a.token, body: { name: 'a' }, headers })).status).toBe(201);
    const forB = await api('POST', '/v1/me/api-keys', { token: b.token, body: { name: 'b' }, headers });
    expect(forB.status).toBe(201);
    expect(forB.headers.get('idempotent-replayed')).toBeNull();

    const register = (email: string) =>
      api('POST', '/v1/auth/register', {
        body: { email, password: 'a long password', displayName: 'x', role: 'traveler' },
        headers: { 'idempotency-key': 'anon' },
      });
    expect((await register(`anon1-${Date.now()}@example.com`)).status).toBe(201);
    expect((await register(`anon2-${Date.now()}@example.com`)).status).toBe(201);
  });

  it('forgets a key after its 24 hours', async () => {
    const user = await registerUser(api, 'counterparty');
    const headers = { 'idempotency-key': 'k-expiring' };
    expect((await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'old' }, headers })).status).toBe(201);
    const ttl = await db.query(
      `SELECT round(extract(epoch FROM expires_at - created_at) / 3600) AS hours FROM idempotency_keys WHERE owner_id = $1`,
      [user.id],
    );
    expect(Number(ttl.rows[0].hours)).toBe(24);
    await db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE owner_id = $1`, [user.id]);
    const fresh = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'new' }, headers });
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(await keyCount(user.id)).toBe(2);
  });

  describe('a key whose request died in flight', () => {
    /** A traveler's open request of 1000 CNY at 7.24 and a counterparty ready to accept it. */
    async function openRequest() {
      await setReference(test, '7.2400');
      const traveler = await readyTraveler(api);
      const counterparty = await readyCounterparty(api);
      const posted = await api('POST', '/v1/requests', {
        token: traveler.token,
        body: { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
      });
      expect(posted.status).toBe(201);
      return { traveler, counterparty, posted };
    }

    /** Whether one statement of the service (its text naming `table`) waits on a lock. */
    const waitsOnLock = async (table: string) =>
      (
        await db.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE $1`,
          [`%${table}%`],
        )
      ).rowCount === 1;

    /**
     * What a request that died after its claim leaves behind: the claim in progress, as the interceptor
     * wrote it, with its lease moved to `lease` from now, and a change committed or not.
     */
    async function diedInFlight(
      user: TestUser,
      key: string,
      body: unknown,
      lease: string,
      committed = false,
      path = '/v1/me/api-keys',
    ): Promise<void> {
      const claim = await test.app
        .get(IdempotencyRepository)
        .claim(user.id, key, { method: 'POST', path, requestHash: hashBody(body) }, 24, 60000);
      expect(claim.claimed).toBe(true);
      await db.query(
        `UPDATE idempotency_keys SET lease_until = now() + $3::interval, effect_committed_at = CASE WHEN $4 THEN now() END
          WHERE owner_id = $1 AND key = $2`,
        [user.id, key, lease, committed],
      );
    }
    const create = (user: TestUser, key: string, name: string) =>
      api('POST', '/v1/me/api-keys', { token: user.token, body: { name }, headers: { 'idempotency-key': key } });

    it('runs the same request again once the lease has passed, then replays it', async () => {
      const user = await registerUser(api, 'counterparty');
      await diedInFlight(user, 'k-died', { name: 'again' }, '-1 second');
      const retried = await create(user, 'k-died', 'again');
      expect(retried.status).toBe(201);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
      const replay = await create(user, 'k-died', 'again');
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body.id).toBe(retried.body.id);
      expect(await keyCount(user.id)).toBe(1);
      // The change's own transaction recorded that the claim changed something: had this run died after its
      // commit, a retry would not run it again.
      const marked = await db.query(`SELECT effect_committed_at IS NOT NULL AS marked FROM idempotency_keys WHERE owner_id = $1`, [
        user.id,
      ]);
      expect(marked.rows[0].marked).toBe(true);
    });

    it('answers 409 while the lease runs, and to another body after it', async () => {
      const user = await registerUser(api, 'counterparty');
      await diedInFlight(user, 'k-leased', { name: 'leased' }, '1 minute');
      const running = await create(user, 'k-leased', 'leased');
      expect(running.status).toBe(409);
      expect(running.body.code).toBe('idempotency_key_in_use');

      await diedInFlight(user, 'k-other', { name: 'first' }, '-1 second');
      expect((await create(user, 'k-other', 'second')).status).toBe(409);
      expect(await keyCount(user.id)).toBe(0);
    });

    it('never runs again a request that committed its change before dying: 409 until the key expires', async () => {
      const user = await registerUser(api, 'counterparty');
      await diedInFlight(user, 'k-committed', { name: 'once' }, '-1 second', true);
      const refused = await create(user, 'k-committed', 'once');
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('idempotency_key_in_use');
      expect(refused.body.detail).toMatch(/made its change/);
      expect(await keyCount(user.id)).toBe(0);
    });

    it('lets exactly one of several concurrent retries take the key over', async () => {
      const user = await registerUser(api, 'counterparty');
      await diedInFlight(user, 'k-takeover', { name: 'race' }, '-1 second');
      const responses = await Promise.all(Array.from({ length: 12 }, () => create(user, 'k-takeover', 'race')));
      const executed = responses.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
      expect(executed).toHaveLength(1);
      for (const r of responses.filter((r) => r !== executed[0])) {
        if (r.status === 201) expect(r.body.id).toBe(executed[0].body.id);
        else expect({ status: r.status, code: r.body.code }).toEqual({ status: 409, code: 'idempotency_key_in_use' });
      }
      expect(await keyCount(user.id)).toBe(1);
    });

    it('makes one trade of an accept retried after its first run died, however many retries race', async () => {
      const { counterparty, posted } = await openRequest();
      const path = `/v1/requests/${posted.body.id}/accept`;
      await diedInFlight(counterparty, 'k-accept', {}, '-1 second', false, path);
      const responses = await Promise.all(
        Array.from({ length: 6 }, () =>
          api('POST', path, { token: counterparty.token, body: {}, headers: { 'idempotency-key': 'k-accept' } }),
        ),
      );
      const executed = responses.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
      expect(executed).toHaveLength(1);
      for (const r of responses.filter((r) => r !== executed[0])) expect([201, 409]).toContain(r.status);
      const trades = await db.query(`SELECT count(*)::int AS n FROM trades WHERE request_id = $1`, [posted.body.id]);
      expect(trades.rows[0].n).toBe(1);
    });

    it('never accepts again when the first accept committed and died before its answer was stored', async () => {
      const traveler = await readyTraveler(api);
      const counterparty = await readyCounterparty(api);
      const posted = await api('POST', '/v1/requests', {
        token: traveler.token,
        body: { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
      });
      const accept = () =>
        api('POST', `/v1/requests/${posted.body.id}/accept`, {
          token: counterparty.token,
          body: {},
          headers: { 'idempotency-key': 'k-lost' },
        });
      expect((await accept()).status).toBe(201);
      // As if the process died between the accept's commit and storing its answer, a minute ago.
      await db.query(
        `UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, response_ciphertext = NULL, response_key_id = NULL,
                response_headers = NULL, lease_until = now() - interval '1 second'
          WHERE owner_id = $1 AND key = 'k-lost'`,
        [counterparty.id],
      );
      const retried = await accept();
      expect({ status: retried.status, code: retried.body.code }).toEqual({ status: 409, code: 'idempotency_key_in_use' });
      const trades = await db.query(`SELECT count(*)::int AS n FROM trades WHERE request_id = $1`, [posted.body.id]);
      expect(trades.rows[0].n).toBe(1);
    });

    it('refuses the commit of a request that outlived its lease once a retry took its key over', async () => {
      const user = await registerUser(api, 'counterparty');
      const locker = new Client({ connectionString: test.databaseUrl });
      await locker.connect();
      let first: ReturnType<typeof create> | undefined;
      let retry: ReturnType<typeof create> | undefined;
      try {
        // The first request is held inside its transaction, as a slow one would be.
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
        first = create(user, 'k-slow', 'slow');
        await eventually(() => waitsOnLock('api_keys'), 3000, 10);
        const claimOf = async () =>
          (await db.query(`SELECT claim_id FROM idempotency_keys WHERE owner_id = $1 AND key = 'k-slow'`, [user.id])).rows[0].claim_id;
        const held = await claimOf();
        await db.query(`UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE owner_id = $1`, [user.id]);
        retry = create(user, 'k-slow', 'slow');
        await eventually(async () => (await claimOf()) !== held, 3000, 10);
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      const [late, retried] = await Promise.all([first!, retry!]);
      expect({ status: late.status, code: late.body.code }).toEqual({ status: 409, code: 'idempotency_key_in_use' });
      expect(retried.status).toBe(201);
      expect(await keyCount(user.id)).toBe(1);
      const replay = await create(user, 'k-slow', 'slow');
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body.id).toBe(retried.body.id);
    });

    it('refuses the accept of a request that outlived its lease once a retry took its key over: one trade opens', async () => {
      const { counterparty, posted } = await openRequest();
      const accept = () =>
        api('POST', `/v1/requests/${posted.body.id}/accept`, {
          token: counterparty.token,
          body: { amountCny: '1000.00' },
          headers: { 'idempotency-key': 'k-slow-accept' },
        });
      const claimOf = async () =>
        (await db.query(`SELECT claim_id FROM idempotency_keys WHERE owner_id = $1 AND key = 'k-slow-accept'`, [counterparty.id])).rows[0]
          ?.claim_id;
      const locker = new Client({ connectionString: test.databaseUrl });
      await locker.connect();
      let first: ReturnType<typeof accept> | undefined;
      let retry: ReturnType<typeof accept> | undefined;
      try {
        // The first accept waits for the request's row, as behind a slow accept of another counterparty.
        await locker.query('BEGIN');
        await locker.query('SELECT 1 FROM exchange_requests WHERE id = $1 FOR UPDATE', [posted.body.id]);
        first = accept();
        await eventually(() => waitsOnLock('exchange_requests'), 3000, 10);
        const held = await claimOf();
        await db.query(`UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE owner_id = $1`, [counterparty.id]);
        retry = accept();
        await eventually(async () => (await claimOf()) !== held, 3000, 10);
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      const [late, retried] = await Promise.all([first!, retry!]);
      expect({ status: late.status, code: late.body.code }).toEqual({ status: 409, code: 'idempotency_key_in_use' });
      expect(retried.status).toBe(201);
      const trades = await db.query(`SELECT count(*)::int AS n FROM trades WHERE request_id = $1`, [posted.body.id]);
      expect(trades.rows[0].n).toBe(1);
      const replay = await accept();
      expect({ replayed: replay.headers.get('idempotent-replayed'), id: replay.body.id }).toEqual({
        replayed: 'true',
        id: retried.body.id,
      });
    });

    it('answers a late accept that finds the amount gone to the retry that took its key over as the key in use, not the amount', async () => {
      // PostgreSQL does not queue a row's waiters fairly: the retry may take the amount before the late accept wakes.
      // Here that order is forced: the row's holder is the retry, which takes the key and the whole amount.
      const { counterparty, posted } = await openRequest();
      const locker = new Client({ connectionString: test.databaseUrl });
      await locker.connect();
      let late: ApiResponse;
      try {
        await locker.query('BEGIN');
        await locker.query('SELECT 1 FROM exchange_requests WHERE id = $1 FOR UPDATE', [posted.body.id]);
        const pending = api('POST', `/v1/requests/${posted.body.id}/accept`, {
          token: counterparty.token,
          body: { amountCny: '1000.00' },
          headers: { 'idempotency-key': 'k-late-accept' },
        });
        await eventually(() => waitsOnLock('exchange_requests'), 3000, 10);
        await db.query(`UPDATE idempotency_keys SET claim_id = gen_random_uuid() WHERE owner_id = $1 AND key = 'k-late-accept'`, [
          counterparty.id,
        ]);
        await locker.query(`UPDATE exchange_requests SET remaining_cny = 0, status = 'filled' WHERE id = $1`, [posted.body.id]);
        await locker.query('COMMIT');
        late = await pending;
      } finally {
        await locker.end();
      }
      expect({ status: late.status, code: late.body.code }).toEqual({ status: 409, code: 'idempotency_key_in_use' });
      const trades = await db.query(`SELECT count(*)::int AS n FROM trades WHERE request_id = $1`, [posted.body.id]);
      expect(trades.rows[0].n).toBe(0);
    });
  });

  it('refuses a malformed key', async () => {
    const user = await registerUser(api, 'counterparty');
    const response = await api('POST', '/v1/me/api-keys', { token: user.token, body: {}, headers: { 'idempotency-key': 'x'.repeat(300) } });
    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('Idempotency-Key');
  });
});
