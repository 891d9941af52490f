import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshot, TestBrowser } from './support/browser';
import { createOperator, registerUser, TestUser } from './support/factories';
import { paypalOrder, paypalPayoutItems } from './support/paypal';
import { settling } from './support/settings';
import { eventually } from './support/test-app';
import { fundTrade, newTrade } from './support/trades';
import { useTestApp } from './support/use-test-app';

/** A raw request to the service: redirects are not followed, cookies are sent as given. */
async function send(
  baseUrl: string,
  method: string,
  path: string,
  options: { cookie?: string; form?: Record<string, string>; accept?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  if (options.accept) headers.accept = options.accept;
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text(), cookies: response.headers.getSetCookie() };
}

/** The value of a cookie set by a response, if it was set (not cleared). */
function cookieValue(setCookies: string[], name: string): string | undefined {
  const line = setCookies.find((c) => c.startsWith(`${name}=`));
  const value = line?.slice(name.length + 1).split(';')[0];
  return value ? value : undefined;
}

const hidden = (page: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)?.[1];

/** The operator console, driven through a real headless Chromium, on the same services as the admin API. */
describe('Operator console', () => {
  const { test, api } = useTestApp({ ...settling, PAYPAL_HONOR_PERIOD_MS: '3000' }, { reference: '7.2400' });
  let operator: TestUser;
  let browser: TestBrowser;

  beforeAll(async () => {
    operator = await createOperator(test, api);
    browser = await launchBrowser(test.baseUrl);
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(() => {
    // Nothing the console served asked the browser for anything from another host.
    expect(browser.foreignRequests).toEqual([]);
  });

  /** Signs in through the page, as an operator would, landing on `path`. */
  async function signIn(page: Page, who: TestUser, path = '/admin'): Promise<void> {
    await page.goto(path);
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState();
  }

  /** A signed-in session for raw requests: its cookie and the CSRF token of its forms. */
  async function session(who: TestUser): Promise<{ cookie: string; csrf: string }> {
    const form = await send(test.baseUrl, 'GET', '/admin/sign-in');
    const nonce = `yb_console_sign_in=${cookieValue(form.cookies, 'yb_console_sign_in')}`;
    const signedIn = await send(test.baseUrl, 'POST', '/admin/sign-in', {
      cookie: nonce,
      form: { email: who.email, password: who.password, csrf: hidden(form.text, 'csrf')!, next: '/admin' },
    });
    expect(signedIn.status).toBe(303);
    const cookie = `yb_session=${cookieValue(signedIn.cookies, 'yb_session')}`;
    const page = await send(test.baseUrl, 'GET', '/admin/disputes', { cookie });
    return { cookie, csrf: hidden(page.text, 'csrf')! };
  }

  /**
   * A funded PayPal trade of 1000 CNY at 7.24 ($138.12, fee $1.38) disputed by its traveler, with a statement from
   * each party.
   */
  async function disputedTrade(label: string) {
    const parties = await fundTrade(api, await newTrade(api));
    const travelerSays = `Nothing arrived in my WeChat wallet (${label}).`;
    const counterpartySays = `I sent the full 1000 CNY at 14:02 (${label}).`;
    const opened = await api('POST', `/v1/trades/${parties.trade.id}/disputes`, {
      token: parties.traveler.token,
      body: { reason: 'rmb_not_received', statement: travelerSays },
    });
    expect(opened.status).toBe(201);
    const answered = await api('POST', `/v1/disputes/${opened.body.id}/statements`, {
      token: parties.counterparty.token,
      body: {
        text: counterpartySays,
        attachments: [{ name: 'transfer-receipt.png', contentType: 'image/png', sizeBytes: 48213, sha256: 'a'.repeat(64) }],
      },
    });
    expect(answered.status).toBe(201);
    return { ...parties, dispute: opened.body as { id: string }, travelerSays, counterpartySays };
  }

  const tradeOf = async (id: string) => (await api('GET', `/v1/trades/${id}`, { token: operator.token })).body;

  /** Fills a resolution form on the dispute page, sends it, and confirms on the confirmation page. */
  async function resolveOnPage(page: Page, outcome: 'Release' | 'Refund', note: string): Promise<void> {
    const form = page.locator('form', { has: page.getByRole('heading', { name: outcome }) });
    await form.getByLabel(/^Note/).fill(note);
    await form.getByRole('button', { name: `${outcome}…` }).click();
    await page.waitForURL(/\/resolve$/);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/done=resolved/);
  }

  it('lets an operator find a dispute, read both statements and the chat, and resolve it with a split to the cent', async () => {
    const { traveler, counterparty, trade, dispute, travelerSays, counterpartySays, orderId, payoutEmail } = await disputedTrade('split');
    const chat = await api('POST', `/v1/trades/${trade.id}/messages`, { token: traveler.token, body: { text: 'Did you send it?' } });
    expect(chat.status).toBe(201);

    const page = await browser.page();
    await signIn(page, operator);
    expect(new URL(page.url()).pathname).toBe('/admin/disputes');
    const row = page.locator(`a[href="/admin/disputes/${dispute.id}"]`);
    await expect(row.innerText()).resolves.toBe('RMB not received');
    await screenshot(page, 'console', 'queue-1280');
    await row.click();
    await page.waitForURL(`**/admin/disputes/${dispute.id}`);

    await expect(page.getByText(travelerSays).isVisible()).resolves.toBe(true);
    await expect(page.getByText(counterpartySays).isVisible()).resolves.toBe(true);
    await expect(page.getByText('transfer-receipt.png').isVisible()).resolves.toBe(true);
    // The trade's facts: $138.12 for 1000 CNY, a $1.38 fee, $136.74 to the counterparty on a release.
    const facts = await page.locator('#trade + dl').innerText();
    for (const fact of ['138.12 USD for 1000.00 CNY', '7.2400', '1.38 USD', '136.74 USD', 'paypal', orderId!])
      expect(facts).toContain(fact);
    // Each party with their reputation and history: this trade is the latest of each.
    const partyCards = page.locator('#parties + .grid');
    expect(await partyCards.innerText()).toContain('disputed: 138.12 USD as traveler');
    expect(await partyCards.innerText()).toContain('disputed: 138.12 USD as counterparty');
    const shot = await screenshot(page, 'console', 'dispute-1280');
    // The README's picture, renewed only when asked: a run of the tests leaves the working tree as it was.
    if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
      mkdirSync(join(__dirname, '..', 'docs', 'images'), { recursive: true });
      copyFileSync(shot, join(__dirname, '..', 'docs', 'images', 'console-dispute.png'));
    }

    await page.getByRole('link', { name: 'Read the trade chat' }).click();
    await expect(page.getByText('Did you send it?').isVisible()).resolves.toBe(true);

    await page.getByRole('button', { name: 'Assign to me' }).click();
    await expect(page.getByRole('status').innerText()).resolves.toContain('You hold this dispute now');

    // Amounts that do not add up never leave the page: its script stops the form and says why.
    const split = page.locator('form[data-split-total]');
    await split.getByLabel('To the traveler (USD)').fill('50.00');
    await split.getByLabel(/^To the counterparty/).fill('50.00');
    await split.getByLabel(/^Note/).fill('Part of the RMB arrived.');
    await split.getByRole('button', { name: 'Split…' }).click();
    await expect(split.getByRole('alert').innerText()).resolves.toContain('add up to 138.12 USD');
    expect(new URL(page.url()).pathname).toBe(`/admin/disputes/${dispute.id}`);

    await split.getByLabel(/^To the counterparty/).fill('88.50');
    await split.getByLabel('To the traveler (USD)').fill('49.62');
    await split.getByRole('button', { name: 'Split…' }).click();
    await page.waitForURL(/\/resolve$/);
    await expect(page.locator('main').innerText()).resolves.toContain('49.62 USD back to traveler');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/done=resolved/);

    await eventually(async () => (await tradeOf(trade.id)).state === 'settled_split', 20000);
    const resolved = (await api('GET', `/v1/disputes/${dispute.id}`, { token: operator.token })).body;
    expect(resolved).toMatchObject({
      status: 'resolved',
      outcome: 'split',
      travelerUsd: '49.62',
      counterpartyUsd: '88.50',
      assignedTo: operator.id,
    });
    // The traveler's part refunded at PayPal; the counterparty's paid less its fee ($88.50, 1% half-up $0.89).
    expect((await paypalOrder(api, orderId!)).refunds.map((r) => r.amountCents)).toEqual(['4962']);
    expect((await paypalPayoutItems(api, `yb-${trade.id}-payout`)).map((p) => [p.receiver, p.amountCents])).toEqual([
      [payoutEmail, '8761'],
    ]);
    expect((await tradeOf(trade.id)).feeUsd).toBe('0.89');
    expect(counterparty.id).toBe((await tradeOf(trade.id)).counterpartyId);

    await page.goto('/admin/disputes?status=resolved');
    await expect(page.locator(`a[href="/admin/disputes/${dispute.id}"]`).count()).resolves.toBe(1);
  });

  it('releases one dispute (taken over from another operator) and refunds another, through the page', async () => {
    const released = await disputedTrade('release');
    const refunded = await disputedTrade('refund');
    const other = await createOperator(test, api);
    expect((await api('POST', `/v1/admin/disputes/${released.dispute.id}/assign`, { token: other.token, body: {} })).status).toBe(200);

    const page = await browser.page();
    await signIn(page, operator, `/admin/disputes/${released.dispute.id}`);
    expect(new URL(page.url()).pathname).toBe(`/admin/disputes/${released.dispute.id}`);
    await page.getByRole('button', { name: 'Take over from another operator' }).click();
    await expect(page.locator('main').innerText()).resolves.toContain('holds this dispute');
    await page.getByRole('button', { name: 'Take it over' }).click();
    await expect(page.getByRole('status').innerText()).resolves.toContain('You hold this dispute now');
    await resolveOnPage(page, 'Release', 'The transfer shows at the WeChat mock.');

    // The audited reveal: the reason asked for, the handle shown after the post.
    await page.goto(`/admin/disputes/${refunded.dispute.id}`);
    await page.getByLabel('Handle').selectOption('counterpartyPaypalEmail');
    await page.getByLabel(/^Reason/).fill('Checking the payout account before refunding.');
    await page.getByRole('button', { name: 'Reveal' }).click();
    await expect(page.getByRole('status').innerText()).resolves.toContain(refunded.payoutEmail);
    await resolveOnPage(page, 'Refund', 'No RMB was sent.');

    await eventually(async () => (await tradeOf(released.trade.id)).state === 'completed', 20000);
    await eventually(async () => (await tradeOf(refunded.trade.id)).state === 'refunded', 20000);
    const outcomes = await Promise.all(
      [released, refunded].map(
        async ({ dispute }) => (await api('GET', `/v1/disputes/${dispute.id}`, { token: operator.token })).body.outcome,
      ),
    );
    expect(outcomes).toEqual(['release', 'refund']);

    // Sign-out from the page ends the session: the console asks for a sign-in again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/admin/sign-in');
    await page.goto(`/admin/disputes/${released.dispute.id}`);
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    expect((await paypalPayoutItems(api, `yb-${released.trade.id}-payout`)).map((p) => [p.receiver, p.amountCents])).toEqual([
      [released.payoutEmail, '13674'],
    ]);
  });

  it("shows the server's refusal plainly, and changes nothing", async () => {
    const { trade, dispute } = await disputedTrade('refusal');
    const { cookie, csrf } = await session(operator);
    const form = { csrf, outcome: 'split', travelerUsd: '1.00', counterpartyUsd: '1.00', note: 'probe', confirmed: 'yes' };
    const refused = await send(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, { cookie, form });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toContain('text/html');
    expect(refused.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.text).toContain('split_mismatch');
    expect(refused.text).toContain(`href="/admin/disputes/${dispute.id}"`);
    const noNote = await send(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, {
      cookie,
      form: { csrf, outcome: 'release', note: '' },
    });
    expect(noNote.status).toBe(400);
    expect(noNote.text).toContain('note');
    // Without the CSRF token, even a confirmed release does nothing.
    const forged = await send(test.baseUrl, 'POST', `/admin/disputes/${dispute.id}/resolve`, {
      cookie,
      form: { outcome: 'release', note: 'forged', confirmed: 'yes' },
    });
    expect(forged.status).toBe(403);
    expect((await tradeOf(trade.id)).state).toBe('disputed');
    expect((await api('GET', `/v1/disputes/${dispute.id}`, { token: operator.token })).body.status).toBe('open');

    const unknown = await send(test.baseUrl, 'GET', '/admin/disputes/00000000-0000-4000-8000-000000000000', { cookie });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('text/html');

    // On a phone-sized screen the page still works: the tables scroll inside their own box.
    const page = await browser.page({ width: 390, height: 844 });
    await signIn(page, operator, `/admin/disputes/${dispute.id}`);
    await expect(page.getByRole('heading', { name: 'Dispute: RMB not received' }).isVisible()).resolves.toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(page, 'console', 'dispute-390');
  });

  it('leads a browser without a session to the sign-in page, and back to the page it asked for', async () => {
    const home = await send(test.baseUrl, 'GET', '/admin');
    expect([home.status, home.headers.get('location')]).toEqual([303, '/admin/sign-in']);
    const dispute = await send(test.baseUrl, 'GET', '/admin/disputes?status=resolved');
    expect(dispute.headers.get('location')).toBe(`/admin/sign-in?next=${encodeURIComponent('/admin/disputes?status=resolved')}`);
    // The queue dashboard: a browser is sent to sign in; an API client keeps its problem.
    const board = await send(test.baseUrl, 'GET', '/admin/queues', { accept: 'text/html,application/xhtml+xml' });
    expect([board.status, board.headers.get('location')]).toEqual([303, '/admin/sign-in?next=%2Fadmin%2Fqueues']);
    expect((await api('GET', '/admin/queues')).status).toBe(401);

    const page = await browser.page();
    await signIn(page, operator, '/admin/queues');
    expect(new URL(page.url()).pathname).toBe('/admin/queues');
    // The dashboard, loaded in full, asked nothing of another host either (checked after each test).
    await page.waitForLoadState('networkidle');
    await expect(page.getByText('housekeeping').first().isVisible()).resolves.toBe(true);
    const form = await send(test.baseUrl, 'GET', '/admin/sign-in');
    expect(form.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(form.headers.get('cache-control')).toBe('no-store');
  });

  it('follows next only to a path of the console, never to another site', async () => {
    for (const next of [
      'https://evil.example/',
      '//evil.example/admin',
      '/\\evil.example',
      '/admin//evil.example',
      'javascript:alert(1)',
      '/v1/me',
    ]) {
      const form = await send(test.baseUrl, 'GET', `/admin/sign-in?next=${encodeURIComponent(next)}`);
      expect(hidden(form.text, 'next')).toBe('/admin');
      const signedIn = await send(test.baseUrl, 'POST', '/admin/sign-in', {
        cookie: `yb_console_sign_in=${cookieValue(form.cookies, 'yb_console_sign_in')}`,
        form: { email: operator.email, password: operator.password, csrf: hidden(form.text, 'csrf')!, next },
      });
      expect([signedIn.status, signedIn.headers.get('location')]).toEqual([303, '/admin']);
    }
  });

  it('refuses a form without its CSRF token, signed in or not, and changes nothing', async () => {
    const form = await send(test.baseUrl, 'GET', '/admin/sign-in');
    const forged = await send(test.baseUrl, 'POST', '/admin/sign-in', {
      cookie: `yb_console_sign_in=${cookieValue(form.cookies, 'yb_console_sign_in')}`,
      form: { email: operator.email, password: operator.password, next: '/admin' },
    });
    expect(forged.status).toBe(403);
    expect(cookieValue(forged.cookies, 'yb_session')).toBeUndefined();

    const { cookie, csrf } = await session(operator);
    const noToken = await send(test.baseUrl, 'POST', '/admin/sign-out', { cookie, form: {} });
    expect(noToken.status).toBe(403);
    expect(noToken.text).toContain('did not come from this console');
    expect((await send(test.baseUrl, 'GET', '/admin/disputes', { cookie })).status).toBe(200);

    // The /v1 API never takes the console's cookie.
    expect((await send(test.baseUrl, 'GET', '/v1/me', { cookie })).status).toBe(401);
    expect((await send(test.baseUrl, 'GET', '/v1/admin/disputes', { cookie })).status).toBe(401);

    const out = await send(test.baseUrl, 'POST', '/admin/sign-out', { cookie, form: { csrf } });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/admin/sign-in']);
    // Ended server-side: the same cookie no longer opens anything.
    expect((await send(test.baseUrl, 'GET', '/admin/disputes', { cookie })).status).toBe(303);
  });

  it('refuses a suspended operator at once, live session or not, and pages a queue only by its own cursors', async () => {
    const suspended = await createOperator(test, api);
    const { cookie } = await session(suspended);
    const badCursor = await send(test.baseUrl, 'GET', '/admin/disputes?status=open&cursor=not-a-cursor', { cookie });
    expect([badCursor.status, badCursor.text.includes('invalid_cursor')]).toEqual([400, true]);
    // The resolved tab, a dispute a page, oldest first, followed to its end by the service's cursors.
    const expected = (await api('GET', '/v1/admin/disputes?status=resolved&limit=100', { token: operator.token })).body.data.map(
      (d: { id: string }) => d.id,
    );
    expect(expected.length).toBeGreaterThanOrEqual(2);
    const seen: string[] = [];
    let path: string | undefined = '/admin/disputes?status=resolved&limit=1';
    while (path) {
      const page = await send(test.baseUrl, 'GET', path, { cookie });
      seen.push(...[...page.text.matchAll(/<a href="\/admin\/disputes\/([0-9a-f-]{36})">/g)].map((m) => m[1]));
      path = /<a href="([^"]+)" rel="next">/.exec(page.text)?.[1].replace(/&amp;/g, '&');
    }
    expect(seen).toEqual(expected);
    expect((await api('POST', `/v1/admin/users/${suspended.id}/suspend`, { token: operator.token })).status).toBe(200);
    // The suspension ended the session: back to the sign-in page, where a suspended operator is refused.
    const refused = await send(test.baseUrl, 'GET', '/admin/disputes', { cookie });
    expect([refused.status, refused.headers.get('location')]).toEqual([303, '/admin/sign-in?next=%2Fadmin%2Fdisputes']);
    const again = await send(test.baseUrl, 'GET', '/admin/sign-in');
    const signIn = await send(test.baseUrl, 'POST', '/admin/sign-in', {
      cookie: `yb_console_sign_in=${cookieValue(again.cookies, 'yb_console_sign_in')}`,
      form: { email: suspended.email, password: suspended.password, csrf: hidden(again.text, 'csrf')!, next: '/admin' },
    });
    expect(signIn.status).toBe(403);
    expect(signIn.text).toContain('suspended');
    expect(cookieValue(signIn.cookies, 'yb_session')).toBeUndefined();
  });

  it('shows a traveler who signs in the sign-in page again, with no admin data and no session', async () => {
    const traveler = await registerUser(api, 'traveler');
    const page = await browser.page();
    await signIn(page, traveler);
    expect(await page.getByRole('alert').innerText()).toContain('This console is for operators');
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    expect((await page.context().cookies()).map((c) => c.name)).not.toContain('yb_session');
    expect(await page.getByRole('link', { name: 'Disputes' }).count()).toBe(0);
    await page.goto('/admin/disputes');
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
  });

  it('says plainly when the password is wrong, and when sign-in is throttled, when to try again', async () => {
    const page = await browser.page();
    await signIn(page, { ...operator, password: 'not the password' });
    expect(await page.getByRole('alert').innerText()).toContain('Email or password is wrong');

    // The same per-email throttle as /v1/auth/login: after LOGIN_MAX_FAILURES (5) failures, even the right password waits.
    const other = await createOperator(test, api);
    let answer = await send(test.baseUrl, 'GET', '/admin/sign-in');
    const attempt = async (password: string) => {
      const cookie = `yb_console_sign_in=${cookieValue(answer.cookies, 'yb_console_sign_in')}`;
      answer = await send(test.baseUrl, 'POST', '/admin/sign-in', {
        cookie,
        form: { email: other.email, password, csrf: hidden(answer.text, 'csrf')!, next: '/admin' },
      });
      return answer;
    };
    for (let i = 0; i < 5; i++) expect((await attempt('wrong password')).status).toBe(401);
    const throttled = await attempt(other.password);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(throttled.text).toMatch(/try again in \d+ seconds/);
    expect(cookieValue(throttled.cookies, 'yb_session')).toBeUndefined();
  });
});
