import type { Page } from 'playwright-core';
import { launchBrowser, TestBrowser } from './support/browser';
import { createOperator, registerUser, TestUser } from './support/factories';
import { settling } from './support/settings';
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

  it('says plainly when the password is wrong', async () => {
    const page = await browser.page();
    await signIn(page, { ...operator, password: 'not the password' });
    expect(await page.getByRole('alert').innerText()).toContain('Email or password is wrong');
  });
});
