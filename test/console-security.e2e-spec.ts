import { consoleRequest, consoleSession, consoleSignIn, hiddenField } from './support/console';
import { createOperator, TestUser } from './support/factories';
import { settling } from './support/settings';
import { fundTrade, newTrade } from './support/trades';
import { useTestApp } from './support/use-test-app';

const TRUSTED = 'https://app.example.com';

/**
 * What keeps the operator console to its own pages: no CORS for /admin however trusted an origin is by the API,
 * form posts refused when the browser says they came from another site, sign-in refused across sites.
 */
describe('Operator console: cross-origin requests', () => {
  const { test, api, db } = useTestApp({ ...settling, CORS_ORIGINS: TRUSTED, QUEUE_DASHBOARD_ACTIONS: 'true' }, { reference: '7.2400' });
  let operator: TestUser;

  beforeAll(async () => {
    operator = await createOperator(test, api);
  });

  /** A funded PayPal trade of 1000 CNY ($138.12) disputed by its traveler. */
  async function disputedTrade() {
    const parties = await fundTrade(api, await newTrade(api));
    const opened = await api('POST', `/v1/trades/${parties.trade.id}/disputes`, {
      token: parties.traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
    });
    expect(opened.status).toBe(201);
    return { ...parties, dispute: opened.body as { id: string } };
  }

  const disputeOf = async (id: string) => (await api('GET', `/v1/disputes/${id}`, { token: operator.token })).body;

  it('gives no CORS answer for the console or its queue dashboard, while the API keeps it for its origins', async () => {
    const api_ = await consoleRequest(test.baseUrl, 'GET', '/v1/market/rates', { headers: { origin: TRUSTED } });
    expect(api_.headers.get('access-control-allow-origin')).toBe(TRUSTED);
    const { cookie } = await consoleSession(test.baseUrl, operator);
    for (const path of ['/admin/disputes', '/admin', '/admin/queues/api/queues', '/%61dmin/disputes', '/admin/nope']) {
      const read = await consoleRequest(test.baseUrl, 'GET', path, { cookie, headers: { origin: TRUSTED } });
      expect([path, read.headers.get('access-control-allow-origin'), read.headers.get('access-control-allow-credentials')]).toEqual([
        path,
        null,
        null,
      ]);
      const preflight = await consoleRequest(test.baseUrl, 'OPTIONS', path, {
        headers: { origin: TRUSTED, 'access-control-request-method': 'POST' },
      });
      expect([path, preflight.headers.get('access-control-allow-origin')]).toEqual([path, null]);
    }
  });

  it('refuses a resolution or a reveal posted from another site, token and all, and changes nothing', async () => {
    const { dispute, trade } = await disputedTrade();
    const { cookie, csrf } = await consoleSession(test.baseUrl, operator);
    expect((await consoleRequest(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/assign`, { cookie, form: { csrf } })).status).toBe(
      303,
    );
    const resolve = { csrf, outcome: 'release', note: 'Released from another site', confirmed: 'yes' };
    const foreign: Record<string, string>[] = [
      { origin: TRUSTED },
      { origin: 'null' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site', origin: test.baseUrl },
      { origin: `${test.baseUrl}.evil.example` },
    ];
    for (const headers of foreign) {
      const posted = await consoleRequest(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, {
        cookie,
        form: resolve,
        headers,
      });
      expect([headers, posted.status]).toEqual([headers, 403]);
      expect(posted.headers.get('content-type')).toContain('text/html');
      expect(posted.text).toContain('another site');
      const revealed = await consoleRequest(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/reveal`, {
        cookie,
        form: { csrf, field: 'counterpartyPaypalEmail', reason: 'curious' },
        headers,
      });
      expect([headers, revealed.status]).toEqual([headers, 403]);
    }
    expect((await disputeOf(dispute.id)).status).toBe('assigned');
    const reveals = await db.query(`SELECT count(*)::int AS n FROM audit_log WHERE trade_id = $1 AND action LIKE '%reveal%'`, [trade.id]);
    expect(reveals.rows[0].n).toBe(0);

    // The console's own page posting: Origin and Sec-Fetch-Site as a browser sends them.
    const own = { origin: test.baseUrl, 'sec-fetch-site': 'same-origin' };
    const confirm = await consoleRequest(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, {
      cookie,
      form: { csrf, outcome: 'release', note: 'Released here' },
      headers: own,
    });
    expect(confirm.status).toBe(200);
    expect(hiddenField(confirm.text, 'confirmed')).toBe('yes');
    const done = await consoleRequest(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, {
      cookie,
      form: { ...resolve, note: 'Released here', binding: hiddenField(confirm.text, 'binding')! },
      headers: own,
    });
    expect(done.status).toBe(303);
    expect((await disputeOf(dispute.id)).status).toBe('resolved');
  });

  it('refuses a sign-in form posted from another site: no session', async () => {
    const form = await consoleRequest(test.baseUrl, 'GET', '/admin/sign-in');
    const nonce = form.cookies.find((c) => c.startsWith('yb_console_sign_in='))!.split(';')[0];
    const posted = await consoleRequest(test.baseUrl, 'POST', '/admin/sign-in', {
      cookie: nonce,
      form: { email: operator.email, password: operator.password, csrf: hiddenField(form.text, 'csrf')!, next: '/admin' },
      headers: { origin: TRUSTED, 'sec-fetch-site': 'same-site' },
    });
    expect(posted.status).toBe(403);
    expect(posted.cookies.some((c) => c.startsWith('yb_session='))).toBe(false);
    expect((await consoleSignIn(test.baseUrl, operator)).status).toBe(303);
  });

  it("refuses the queue dashboard's actions from another site", async () => {
    const { cookie } = await consoleSession(test.baseUrl, operator);
    const paused = async () =>
      (await api('GET', '/admin/queues/api/queues', { headers: { cookie } })).body.queues.find(
        (queue: { name: string }) => queue.name === 'housekeeping',
      ).isPaused;
    const foreign = await consoleRequest(test.baseUrl, 'PUT', '/admin/queues/api/queues/housekeeping/pause', {
      cookie,
      headers: { origin: TRUSTED, 'sec-fetch-site': 'same-site' },
    });
    expect(foreign.status).toBe(403);
    expect(await paused()).toBe(false);
    const own = await consoleRequest(test.baseUrl, 'PUT', '/admin/queues/api/queues/housekeeping/pause', {
      cookie,
      headers: { origin: test.baseUrl, 'sec-fetch-site': 'same-origin' },
    });
    expect(own.status).toBe(200);
    expect(await paused()).toBe(true);
    await consoleRequest(test.baseUrl, 'PUT', '/admin/queues/api/queues/housekeeping/resume', { cookie });
  });

  it('takes /v1/auth/session as JSON only: a form posted from another site is 415 and sets no cookie', async () => {
    const bodies: Array<[string, string]> = [
      ['application/x-www-form-urlencoded', new URLSearchParams({ email: operator.email, password: operator.password }).toString()],
      ['text/plain', JSON.stringify({ email: operator.email, password: operator.password })],
      ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="email"\r\n\r\n${operator.email}\r\n--x--\r\n`],
    ];
    for (const [type, body] of bodies) {
      const response = await fetch(`${test.baseUrl}/v1/auth/session`, {
        method: 'POST',
        headers: { 'content-type': type, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        body,
      });
      expect([type, response.status]).toEqual([type, 415]);
      expect(response.headers.getSetCookie().some((c) => c.startsWith('yb_session='))).toBe(false);
    }
  });

  it('signs in towards any console path, spelled in any script, and never outside /admin through dot segments', async () => {
    const cases: Array<[string, string]> = [
      ['/admin/\u65e5', '/admin/%E6%97%A5'],
      ['/admin/users?q=\u00e9', '/admin/users?q=%C3%A9'],
      ['/admin/../..', '/admin'],
      ['/admin/%2e%2e/v1/me', '/admin'],
      ['/admin/disputes/../trades', '/admin/trades'],
    ];
    for (const [next, location] of cases) {
      const signedIn = await consoleSignIn(test.baseUrl, operator, next);
      expect([next, signedIn.status, signedIn.headers.get('location')]).toEqual([next, 303, location]);
      // The form's hidden field as posted by hand, unencoded.
      const form = await consoleRequest(test.baseUrl, 'GET', '/admin/sign-in');
      const posted = await consoleRequest(test.baseUrl, 'POST', '/admin/sign-in', {
        cookie: form.cookies.find((c) => c.startsWith('yb_console_sign_in='))!.split(';')[0],
        form: { email: operator.email, password: operator.password, csrf: hiddenField(form.text, 'csrf')!, next },
      });
      expect([next, posted.status, posted.headers.get('location')]).toEqual([next, 303, location]);
    }
  });

  it('shows a split for confirmation only once the disputes service has checked it, and says who holds a dispute first', async () => {
    const { dispute } = await disputedTrade();
    const { cookie, csrf } = await consoleSession(test.baseUrl, operator);
    const own = { origin: test.baseUrl, 'sec-fetch-site': 'same-origin' };
    const ask = (travelerUsd: string, counterpartyUsd: string) =>
      consoleRequest(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, {
        cookie,
        form: { csrf, outcome: 'split', note: 'Half each', travelerUsd, counterpartyUsd },
        headers: own,
      });
    // The trade is $138.12: none of these is a split of it.
    const refused: Array<[string, string]> = [
      ['1.00', '1.00'],
      ['0', '138.12'],
      ['1e2', '38.12'],
      ['-1', '139.12'],
      ['69,06', '69.06'],
      ['\uff16\uff19.06', '69.06'],
      ['', '138.12'],
      ['69.061', '69.059'],
    ];
    for (const [travelerUsd, counterpartyUsd] of refused) {
      const page = await ask(travelerUsd, counterpartyUsd);
      expect([travelerUsd, counterpartyUsd, page.status]).toEqual([travelerUsd, counterpartyUsd, 400]);
      expect(page.text).not.toContain('name="confirmed"');
    }
    const sum = await ask('1.00', '1.00');
    expect(sum.text).toContain('138.12');

    const fits = await ask('69.1', '69.02');
    expect(fits.status).toBe(200);
    expect(fits.text).toContain('69.10 USD back to');
    expect(hiddenField(fits.text, 'travelerUsd')).toBe('69.10');
    expect(hiddenField(fits.text, 'confirmed')).toBe('yes');

    // Held by another operator: said on the way to the confirmation, not after it.
    const other = await createOperator(test, api);
    expect((await api('POST', `/v1/admin/disputes/${dispute.id}/assign`, { token: other.token, body: {} })).status).toBe(200);
    const held = await ask('69.10', '69.02');
    expect(held.status).toBe(409);
    expect(held.text).toContain('Another operator holds this dispute');
    expect(held.text).not.toContain('name="confirmed"');
    expect((await disputeOf(dispute.id)).status).toBe('assigned');
  });

  it('ends the console sessions of a suspended operator for good, and lets any session sign out', async () => {
    const suspended = await createOperator(test, api);
    const { cookie, csrf } = await consoleSession(test.baseUrl, suspended);
    const second = await consoleSession(test.baseUrl, suspended);
    expect((await api('POST', `/v1/admin/users/${suspended.id}/suspend`, { token: operator.token, body: {} })).status).toBe(200);
    // Signing out still works: the cookie is cleared.
    const out = await consoleRequest(test.baseUrl, 'POST', '/admin/sign-out', { cookie, form: { csrf } });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/admin/sign-in']);
    expect(out.cookies.some((c) => /^yb_session=;/.test(c))).toBe(true);

    expect((await api('POST', `/v1/admin/users/${suspended.id}/unsuspend`, { token: operator.token, body: {} })).status).toBe(200);
    // The other session ended with the suspension: lifting it does not bring the old cookie back.
    const stale = await consoleRequest(test.baseUrl, 'GET', '/admin/disputes', { cookie: second.cookie });
    expect([stale.status, stale.headers.get('location')]).toEqual([303, '/admin/sign-in?next=%2Fadmin%2Fdisputes']);
    expect((await consoleSignIn(test.baseUrl, suspended)).status).toBe(303);
  });

  it('answers unknown console paths and refused requests with a console page: its policy, never stored', async () => {
    const { cookie } = await consoleSession(test.baseUrl, operator);
    const cases: Array<[string, string, Record<string, string>, string | undefined, number]> = [
      ['GET', '/admin/nope', {}, undefined, 404],
      ['GET', '/admin/', {}, undefined, 404],
      ['GET', '/admin/sign-in/', {}, undefined, 404],
      ['GET', '/admin/%E0%A4%A', {}, undefined, 400],
      ['POST', '/admin/sign-in', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--\r\n', 415],
      ['POST', '/admin/sign-in', { 'content-type': 'application/json' }, '{"email":', 400],
    ];
    for (const [method, path, headers, body, status] of cases) {
      const response = await fetch(`${test.baseUrl}${path}`, { method, headers: { ...headers, cookie }, body, redirect: 'manual' });
      const text = await response.text();
      expect([method, path, response.status, response.headers.get('content-type')]).toEqual([
        method,
        path,
        status,
        'text/html; charset=utf-8',
      ]);
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(text).toContain('<a href="/admin">Back to the console</a>');
    }
    // The queue dashboard's API keeps its problems.
    const board = await consoleRequest(test.baseUrl, 'GET', '/admin/queues/api/nope', { cookie });
    expect(board.headers.get('content-type')).not.toContain('text/html');
  });

  it('ends the session a browser held when it signs in again', async () => {
    const first = await consoleSession(test.baseUrl, operator);
    const again = await consoleSignIn(test.baseUrl, operator, '/admin', first.cookie);
    expect(again.status).toBe(303);
    expect(again.cookie).not.toBe(first.cookie);
    expect((await consoleRequest(test.baseUrl, 'GET', '/admin/disputes', { cookie: first.cookie })).status).toBe(303);
    expect((await consoleRequest(test.baseUrl, 'GET', '/admin/disputes', { cookie: again.cookie })).status).toBe(200);
  });

  it("shows the parties on a dispute's page by name and id, their emails only on their own pages", async () => {
    const { dispute, traveler, counterparty, payoutEmail } = await disputedTrade();
    const { cookie } = await consoleSession(test.baseUrl, operator);
    const page = await consoleRequest(test.baseUrl, 'GET', `/admin/disputes/${dispute.id}`, { cookie });
    expect(page.status).toBe(200);
    for (const party of [traveler, counterparty]) {
      expect(page.text).toContain(party.id);
      expect(page.text).not.toContain(party.email);
    }
    expect(page.text).not.toContain(payoutEmail);
    const user = await consoleRequest(test.baseUrl, 'GET', `/admin/users/${counterparty.id}`, { cookie });
    expect(user.text).toContain(counterparty.email);
  });

  it('commits only the decision its confirmation page showed, for the session that saw it', async () => {
    const { dispute } = await disputedTrade();
    const { cookie, csrf } = await consoleSession(test.baseUrl, operator);
    const other = await consoleSession(test.baseUrl, operator);
    const post = (who: { cookie: string; csrf: string }, form: Record<string, string>) =>
      consoleRequest(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, {
        cookie: who.cookie,
        form: { csrf: who.csrf, ...form },
      });
    const split = { outcome: 'split', note: 'Half each', travelerUsd: '69.10', counterpartyUsd: '69.02' };
    const confirm = await post({ cookie, csrf }, split);
    expect(confirm.status).toBe(200);
    const binding = hiddenField(confirm.text, 'binding')!;
    const tampered: Record<string, string>[] = [
      { ...split, travelerUsd: '138.11', counterpartyUsd: '0.01' },
      { ...split, note: 'Something else' },
      { outcome: 'refund', note: 'Half each' },
      { ...split, binding: '' },
    ];
    for (const form of tampered) {
      const refused = await post({ cookie, csrf }, { binding, ...form, confirmed: 'yes' });
      expect([form, refused.status]).toEqual([form, 403]);
    }
    expect((await post(other, { ...split, binding, confirmed: 'yes' })).status).toBe(403);
    expect((await disputeOf(dispute.id)).status).toBe('open');
    // The same decision, spelled as the form first sent it, is the one confirmed.
    const done = await post({ cookie, csrf }, { ...split, travelerUsd: '69.1', binding, confirmed: 'yes' });
    expect(done.status).toBe(303);
    expect((await disputeOf(dispute.id)).status).toBe('resolved');
  });
});
