import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { PasswordHasher } from '../src/users/password-hasher';
import { createOperator, registerUser, TestUser, uniqueEmail } from './support/factories';
import { client, Api, ApiResponse } from './support/http';
import { eventually, startTestApp, TestApp } from './support/test-app';
import { useTestApp } from './support/use-test-app';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The status and code of an answer, what a guesser learns from it. */
const seen = (response: ApiResponse) => `${response.status} ${response.body?.code ?? ''}`.trim();
const UNAUTHENTICATED = '401 unauthenticated';
const LIMITED = '429 rate_limited';

async function attempts(api: Api, path: string, email: string, password: string, n: number): Promise<ApiResponse[]> {
  const answers: ApiResponse[] = [];
  for (let i = 0; i < n; i += 1) answers.push(await api('POST', path, { body: { email, password } }));
  return answers;
}

describe('sign-in throttling per account (HTTP)', () => {
  const { test, api } = useTestApp();

  it('after 5 failed sign-ins, refuses even the right password with 429 and Retry-After', async () => {
    const user = await registerUser(api, 'traveler');
    const guesses = await attempts(api, '/v1/auth/login', user.email, 'wrong password', 25);
    expect(guesses.map(seen)).toEqual([...Array(5).fill(UNAUTHENTICATED), ...Array(20).fill(LIMITED)]);

    const right = await api('POST', '/v1/auth/login', { body: { email: user.email, password: user.password } });
    expect(seen(right)).toBe(LIMITED);
    expect(right.body.accessToken).toBeUndefined();
    const retryAfter = Number(right.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // The email is normalized: another case or padding is the same account, the same count.
    const shouted = await api('POST', '/v1/auth/login', { body: { email: ` ${user.email.toUpperCase()} `, password: user.password } });
    expect(seen(shouted)).toBe(LIMITED);
    // Another account is not affected.
    const other = await registerUser(api, 'traveler');
    expect((await api('POST', '/v1/auth/login', { body: { email: other.email, password: other.password } })).status).toBe(200);
  });

  it('a success resets the count', async () => {
    const user = await registerUser(api, 'counterparty');
    for (let round = 0; round < 3; round += 1) {
      expect((await attempts(api, '/v1/auth/login', user.email, 'wrong password', 4)).map(seen)).toEqual(Array(4).fill(UNAUTHENTICATED));
      expect((await api('POST', '/v1/auth/login', { body: { email: user.email, password: user.password } })).status).toBe(200);
    }
    const after = await attempts(api, '/v1/auth/login', user.email, 'wrong password', 6);
    expect(after.map(seen)).toEqual([...Array(5).fill(UNAUTHENTICATED), LIMITED]);
  });

  it('an unknown email is answered exactly like a known one, and costs a password hash too', async () => {
    const known = await registerUser(api, 'traveler');
    const unknown = uniqueEmail('nobody');
    const verify = jest.spyOn(test.app.get(PasswordHasher), 'verify');
    try {
      const forKnown = await attempts(api, '/v1/auth/login', known.email, 'wrong password', 7);
      const forUnknown = await attempts(api, '/v1/auth/login', unknown, 'wrong password', 7);
      const shape = (r: ApiResponse) => ({
        status: r.status,
        body: { ...r.body, instance: undefined },
        retryAfter: r.headers.get('retry-after') !== null,
        contentType: r.headers.get('content-type'),
      });
      expect(forUnknown.map(shape)).toEqual(forKnown.map(shape));
      expect(forUnknown.map(seen)).toEqual([...Array(5).fill(UNAUTHENTICATED), LIMITED, LIMITED]);
      // Five hashes checked for each email (the unknown one against a dummy hash); none once locked.
      expect(verify.mock.calls.filter(([hash]) => hash === undefined)).toHaveLength(5);
      expect(verify).toHaveBeenCalledTimes(10);
    } finally {
      verify.mockRestore();
    }
  });

  it('counts concurrent guesses: a burst gets no more than the limit checked', async () => {
    const user = await registerUser(api, 'traveler');
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => api('POST', '/v1/auth/login', { body: { email: user.email, password: 'wrong password' } })),
    );
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it('throttles the operator console session too, sharing the count with /v1/auth/login', async () => {
    const operator: TestUser = await createOperator(test, api);
    const guesses = await attempts(api, '/v1/auth/session', operator.email, 'wrong password', 3);
    expect(guesses.map(seen)).toEqual(Array(3).fill(UNAUTHENTICATED));
    expect((await attempts(api, '/v1/auth/login', operator.email, 'wrong password', 2)).map(seen)).toEqual(Array(2).fill(UNAUTHENTICATED));
    const session = await api('POST', '/v1/auth/session', { body: { email: operator.email, password: operator.password } });
    expect(seen(session)).toBe(LIMITED);
    expect(Number(session.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(session.headers.get('set-cookie')).toBeNull();
    expect(seen(await api('POST', '/v1/auth/login', { body: { email: operator.email, password: operator.password } }))).toBe(LIMITED);

    // An unknown email on the console's endpoint: the same answers.
    const unknown = await attempts(api, '/v1/auth/session', uniqueEmail('ghost'), 'wrong password', 6);
    expect(unknown.map(seen)).toEqual([...Array(5).fill(UNAUTHENTICATED), LIMITED]);
  });

  it('keeps no email in clear in Redis keys or in the logs', async () => {
    const user = await registerUser(api, 'traveler');
    await attempts(api, '/v1/auth/login', user.email, 'wrong password', 2);
    const redis = new Redis(REDIS_URL);
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${test.queuePrefix.replace(/[{}]/g, '\\$&')}*`, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      const signIn = keys.filter((key) => key.includes('sign-in'));
      expect(signIn.length).toBeGreaterThan(0);
      const local = user.email.split('@')[0];
      for (const key of keys) expect(key).not.toContain(local);
      expect(Number(await redis.get(signIn[0]))).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
    expect(test.readLog()).not.toContain(user.email.split('@')[0]);
  });

  it('keeps a lockout across a restart that switches the active blind index key', async () => {
    const user = await registerUser(api, 'traveler');
    const guesses = await attempts(api, '/v1/auth/login', user.email, 'wrong password', 6);
    expect(guesses.map(seen)).toEqual([...Array(5).fill(UNAUTHENTICATED), LIMITED]);
    // The rotation's first step: a new blind index key, active (the database, queues and Redis stay).
    const rotated = await startTestApp(
      { BLIND_INDEX_KEYS: `b2:${randomBytes(32).toString('base64')}`, BLIND_INDEX_ACTIVE_KEY_ID: 'b2' },
      test,
    );
    try {
      const after = client(rotated.baseUrl);
      expect(seen(await after('POST', '/v1/auth/login', { body: { email: user.email, password: user.password } }))).toBe(LIMITED);
      expect(seen(await after('POST', '/v1/auth/login', { body: { email: user.email, password: 'another guess' } }))).toBe(LIMITED);
    } finally {
      await rotated.close();
    }
  });
});

describe('sign-in throttling: the window passes', () => {
  const { api } = useTestApp({ LOGIN_MAX_FAILURES: '3', LOGIN_FAILURE_WINDOW_MS: '2000' });

  it('refuses until the window since the first failure passes, then lets the right password in', async () => {
    const user = await registerUser(api, 'traveler');
    const guesses = await attempts(api, '/v1/auth/login', user.email, 'wrong password', 4);
    expect(guesses.map(seen)).toEqual([UNAUTHENTICATED, UNAUTHENTICATED, UNAUTHENTICATED, LIMITED]);
    expect(Number(guesses[3].headers.get('retry-after'))).toBeLessThanOrEqual(2);
    // Asking while locked does not prolong the lock.
    const signedIn = await eventually(async () => {
      const response = await api('POST', '/v1/auth/login', { body: { email: user.email, password: user.password } });
      return response.status !== 429 && response;
    }, 10000);
    expect(signedIn.status).toBe(200);
  });
});

describe('per-address limit: failed authentications count, forged X-Forwarded-For does not help', () => {
  const LIMIT = 12;

  describe('with no proxy trusted (the default)', () => {
    let test: TestApp;
    let api: Api;

    beforeAll(async () => {
      test = await startTestApp({ RATE_LIMIT_PER_IP: String(LIMIT), RATE_LIMIT_WINDOW_MS: '600000' });
      api = client(test.baseUrl);
    });

    afterAll(async () => {
      await test?.close();
    });

    it('counts 401s from bad tokens and unknown API keys, and a forged X-Forwarded-For shares the budget', async () => {
      // Under the limit a bad credential is a 401, as ever; the failures use up the address's budget (shared with
      // anything else from loopback, such as the service's own calls to its sandbox mocks).
      const guesses: ApiResponse[] = [];
      for (let i = 0; i < 2 * LIMIT && guesses.at(-1)?.status !== 429; i += 1) {
        const credentials = i % 2 === 0 ? { token: `forged.token.${i}` } : { apiKey: `yb_guessed_key_number_${i}` };
        guesses.push(await api('GET', '/v1/me', credentials));
      }
      const answers = guesses.map(seen);
      expect(answers.at(-1)).toBe(LIMITED);
      expect(answers.slice(0, -1)).toEqual(Array(guesses.length - 1).fill(UNAUTHENTICATED));
      expect(guesses.length).toBeGreaterThan(LIMIT / 2);

      // The address has used its budget on failures: the next guess is refused before it is checked.
      const next = await api('GET', '/v1/me', { apiKey: 'yb_one_more_guess_here' });
      expect(seen(next)).toBe(LIMITED);
      expect(Number(next.headers.get('retry-after'))).toBeGreaterThan(0);
      // A forged client address buys nothing: the socket's address is the client.
      for (const forwarded of ['203.0.113.50', '198.51.100.7, 203.0.113.51']) {
        const spoofed = await api('GET', '/v1/me', { token: 'forged.token.x', headers: { 'x-forwarded-for': forwarded } });
        expect(seen(spoofed)).toBe(LIMITED);
      }
      expect(seen(await api('POST', '/v1/auth/login', { body: { email: uniqueEmail('late'), password: 'x' } }))).toBe(LIMITED);
    });
  });

  describe('behind one proxy (TRUST_PROXY=1)', () => {
    let test: TestApp;
    let api: Api;

    beforeAll(async () => {
      test = await startTestApp({ RATE_LIMIT_PER_IP: String(LIMIT), RATE_LIMIT_WINDOW_MS: '600000', TRUST_PROXY: '1' });
      api = client(test.baseUrl);
    });

    afterAll(async () => {
      await test?.close();
    });

    /**
     * What the service receives from its proxy (this test's loopback connection) for a client at `client` that
     * sent `X-Forwarded-For: <forged>` itself: the proxy appends the address it saw, as nginx and load
     * balancers do, so only the last entry is the proxy's word.
     */
    const viaProxy = (client: string, forged: string) => ({ 'x-forwarded-for': `${forged}, ${client}` });

    it('takes the client from the hop the proxy added: forged entries before it give no fresh budget', async () => {
      const answers: ApiResponse[] = [];
      for (let i = 0; i <= LIMIT; i += 1) {
        answers.push(await api('GET', '/v1/me', { token: 'forged.token', headers: viaProxy('203.0.113.7', `198.51.100.${i + 1}`) }));
      }
      expect(answers.map(seen)).toEqual([...Array(LIMIT).fill(UNAUTHENTICATED), LIMITED]);
      // More forged hops change nothing either.
      const deeper = await api('GET', '/v1/me', { headers: viaProxy('203.0.113.7', '10.0.0.1, 192.0.2.1, 198.51.100.99') });
      expect(seen(deeper)).toBe(LIMITED);

      // Another client behind the proxy has its own budget: the proxy's hop is trusted, not ignored.
      expect(seen(await api('GET', '/v1/me', { headers: viaProxy('203.0.113.8', '198.51.100.1') }))).toBe(UNAUTHENTICATED);
    });

    it('counts an IPv6 client by its /64: fresh addresses in one /64 give no fresh budget; IPv4-mapped is IPv4', async () => {
      const answers: ApiResponse[] = [];
      for (let i = 0; i <= LIMIT; i += 1) {
        const address = `2001:db8:7:42:${((i * 7919) & 0xffff).toString(16)}:${i.toString(16)}::${(i + 1).toString(16)}`;
        answers.push(await api('GET', '/v1/me', { token: 'forged.token', headers: viaProxy(address, '198.51.100.1') }));
      }
      expect(answers.map(seen)).toEqual([...Array(LIMIT).fill(UNAUTHENTICATED), LIMITED]);
      expect(seen(await api('GET', '/v1/me', { headers: viaProxy('2001:DB8:7:42::ffff', '198.51.100.1') }))).toBe(LIMITED);
      // The next /64 is another client.
      expect(seen(await api('GET', '/v1/me', { headers: viaProxy('2001:db8:7:43::1', '198.51.100.1') }))).toBe(UNAUTHENTICATED);

      // One IPv4 client, written both ways, has one budget.
      const mapped: ApiResponse[] = [];
      for (let i = 0; i <= LIMIT; i += 1) {
        const address = i % 2 === 0 ? '203.0.113.50' : '::ffff:203.0.113.50';
        mapped.push(await api('GET', '/v1/me', { token: 'forged.token', headers: viaProxy(address, '198.51.100.1') }));
      }
      expect(mapped.map(seen)).toEqual([...Array(LIMIT).fill(UNAUTHENTICATED), LIMITED]);
    });
  });
});
