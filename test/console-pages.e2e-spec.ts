import type { Page } from 'playwright-core';
import { launchBrowser, screenshot, TestBrowser } from './support/browser';
import { createOperator, registerUser, TestUser } from './support/factories';
import { fundAtPaypal, paypalTrade } from './support/paypal-trades';
import { cappedPolls, settling } from './support/settings';
import { eventually } from './support/test-app';
import { fundedTrade, tradeState } from './support/trades';
import { useTestApp } from './support/use-test-app';

/** A raw form post or GET with a cookie, redirects not followed. */
async function send(baseUrl: string, method: string, path: string, options: { cookie?: string; form?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text(), cookies: response.headers.getSetCookie() };
}

const cookieOf = (setCookies: string[], name: string) => setCookies.find((c) => c.startsWith(`${name}=`))?.split(';')[0];
const hidden = (page: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)?.[1];

/** The console's trades, users and ledger pages, driven through a real headless Chromium, on the admin API's services. */
describe('Operator console: trades, users, ledger', () => {
  const { test, api } = useTestApp({ ...settling, ...cappedPolls, SETTLEMENT_FLAG_AFTER_ATTEMPTS: '2' }, { reference: '7.2400' });
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
    // Nothing these pages served asked the browser for anything from another host.
    expect(browser.foreignRequests).toEqual([]);
  });

  async function signIn(page: Page, path: string): Promise<void> {
    await page.goto(path);
    await page.getByLabel('Email').fill(operator.email);
    await page.getByLabel('Password').fill(operator.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === path.split('?')[0]);
  }

  const adminView = async (id: string) => (await api('GET', `/v1/admin/users/${id}`, { token: operator.token })).body;

  it('filters trades by state and failing settlement, and retries a failing settlement after a confirmation', async () => {
    const failing = await paypalTrade(api, '1000.00');
    const unfunded = await paypalTrade(api, '500.00');
    await fundAtPaypal(api, failing.trade, failing.traveler);
    await api('PUT', '/sandbox/faults', { body: { provider: 'paypal', down: true } });
    try {
      await api('POST', `/v1/trades/${failing.trade.id}/confirm-receipt`, { token: failing.traveler.token });
      await eventually(
        async () => (await api('GET', `/v1/trades/${failing.trade.id}`, { token: failing.traveler.token })).body.settlementFailing === true,
      );
      const page = await browser.page();
      await signIn(page, '/admin/trades');
      const row = (id: string) => page.locator(`a[href="/admin/trades/${id}"]`);
      await expect(row(unfunded.trade.id).count()).resolves.toBe(1);
      // A page at a time, newest first; the pager keeps the page size.
      await page.goto('/admin/trades?limit=1');
      await expect(row(unfunded.trade.id).count()).resolves.toBe(1);
      await expect(row(failing.trade.id).count()).resolves.toBe(0);
      await page.getByRole('link', { name: 'Next page' }).click();
      await page.waitForURL(/cursor=/);
      expect(new URL(page.url()).searchParams.get('limit')).toBe('1');
      await expect(row(failing.trade.id).count()).resolves.toBe(1);
      await expect(page.getByRole('link', { name: 'First page' }).count()).resolves.toBe(1);
      await page.goto('/admin/trades');

      await page.getByLabel('State').selectOption('releasing');
      await page.getByRole('button', { name: 'Show trades' }).click();
      await page.waitForURL(/state=releasing/);
      await expect(row(failing.trade.id).count()).resolves.toBe(1);
      await expect(row(unfunded.trade.id).count()).resolves.toBe(0);

      await page.getByLabel('State').selectOption('');
      await page.getByLabel('Settlement failing only').check();
      await page.getByRole('button', { name: 'Show trades' }).click();
      await page.waitForURL(/failing=true/);
      await expect(row(failing.trade.id).count()).resolves.toBe(1);
      await expect(row(unfunded.trade.id).count()).resolves.toBe(0);
      await screenshot(page, 'console-pages', 'trades-failing');

      await row(failing.trade.id).click();
      await page.waitForURL(`**/admin/trades/${failing.trade.id}`);
      expect(await page.locator('main').textContent()).toContain('settlement failing');
      // The parties link to their pages.
      await expect(page.locator(`a[href="/admin/users/${failing.traveler.id}"]`).count()).resolves.toBeGreaterThan(0);
      await page.getByRole('button', { name: 'Retry settlement…' }).click();
      await page.getByRole('heading', { name: 'Retry settlement?' }).waitFor();
      // The first post asked only: no retry is in the audit log yet.
      expect((await api('GET', `/v1/admin/audit?tradeId=${failing.trade.id}`, { token: operator.token })).body.data).toEqual([]);
      await page.getByRole('button', { name: 'Retry settlement', exact: true }).click();
      await page.waitForURL(`**/admin/trades/${failing.trade.id}?done=retried`);
      expect(await page.getByRole('status').textContent()).toContain('Settlement tried again');
      await screenshot(page, 'console-pages', 'trade-retried');
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'paypal' } });
    }
    await eventually(async () => (await tradeState(api, failing.trade.id, failing.traveler.token)) === 'completed', 15000);
    const audit = await api('GET', `/v1/admin/audit?tradeId=${failing.trade.id}`, { token: operator.token });
    expect(audit.body.data).toEqual([expect.objectContaining({ action: 'trade.retry_settlement', operatorId: operator.id })]);

    // Retried again once completed: the service's refusal, shown plainly on the trade's page.
    const page = await browser.page();
    await signIn(page, `/admin/trades/${failing.trade.id}`);
    await page.getByRole('button', { name: 'Retry settlement…' }).click();
    const refused = page.waitForResponse((response) => response.request().method() === 'POST');
    await page.getByRole('button', { name: 'Retry settlement', exact: true }).click();
    expect((await refused).status()).toBe(409);
    const alert = await page.getByRole('alert').textContent();
    expect(alert).toContain('Invalid state transition');
    expect(alert).toContain('invalid_state_transition');
    expect((await api('GET', `/v1/admin/audit?tradeId=${failing.trade.id}`, { token: operator.token })).body.data).toHaveLength(1);
  });

  it('finds a user by email, suspends and lifts the suspension with a reason, and changes the tier, each confirmed', async () => {
    const traveler = await registerUser(api, 'traveler');
    const page = await browser.page({ width: 390, height: 844 });
    await signIn(page, '/admin/users');
    await page.getByLabel('User id or email').fill(traveler.email.toUpperCase());
    await page.getByRole('button', { name: 'Find user' }).click();
    await page.waitForURL(`**/admin/users/${traveler.id}`);

    await page.getByLabel('Reason (kept in the audit log)').fill('Chargebacks <b>reported</b> by the bank');
    await page.getByRole('button', { name: 'Suspend…' }).click();
    await page.getByRole('heading', { name: 'Suspend this user?' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('Chargebacks <b>reported</b> by the bank');
    expect((await adminView(traveler.id)).suspended).toBe(false);
    await page.getByRole('button', { name: 'Suspend', exact: true }).click();
    await page.waitForURL(`**/admin/users/${traveler.id}?done=suspended`);
    expect((await adminView(traveler.id)).suspended).toBe(true);
    await screenshot(page, 'console-pages', 'user-suspended-phone');

    await page.getByLabel('Reason (kept in the audit log)').fill('The bank withdrew its report');
    await page.getByRole('button', { name: 'Lift suspension…' }).click();
    await page.getByRole('button', { name: 'Lift suspension', exact: true }).click();
    await page.waitForURL(`**/admin/users/${traveler.id}?done=unsuspended`);
    expect((await adminView(traveler.id)).suspended).toBe(false);

    await page.getByLabel('New tier').selectOption('2');
    await page.getByRole('button', { name: 'Change tier…' }).click();
    await page.getByRole('heading', { name: 'Change the tier?' }).waitFor();
    expect((await adminView(traveler.id)).tier).toBe(0);
    await page.getByRole('button', { name: 'Change tier', exact: true }).click();
    await page.waitForURL(`**/admin/users/${traveler.id}?done=tier`);
    expect((await adminView(traveler.id)).tier).toBe(2);

    const audit = await api('GET', `/v1/admin/audit?operatorId=${operator.id}`, { token: operator.token });
    const mine = audit.body.data.filter((entry: { targetId: string }) => entry.targetId === traveler.id);
    expect(
      mine.map((entry: { action: string; detail: Record<string, unknown> }) => [entry.action, entry.detail.reason ?? entry.detail.toTier]),
    ).toEqual(
      expect.arrayContaining([
        ['user.suspend', 'Chargebacks <b>reported</b> by the bank'],
        ['user.unsuspend', 'The bank withdrew its report'],
        ['user.set_tier', 2],
      ]),
    );

    // A suspension without a reason is refused plainly, and nothing changes.
    await page.getByRole('button', { name: 'Suspend…' }).evaluate((button) => (button.closest('form')!.noValidate = true));
    await page.getByRole('button', { name: 'Suspend…' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('reason');
    expect((await adminView(traveler.id)).suspended).toBe(false);
  });

  it('shows the ledger check and runs a reconciliation from the page', async () => {
    const page = await browser.page();
    await signIn(page, '/admin/ledger');
    expect(await page.locator('main').textContent()).toContain('The books hold');
    const before = (await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body.runId;
    await page.getByRole('button', { name: 'Run a reconciliation now' }).click();
    await page.waitForURL('**/admin/ledger?done=reconciliation-queued');
    const report = await eventually(async () => {
      const latest = (await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body;
      return latest.runId !== null && latest.runId !== before && latest.trigger === 'operator' && latest;
    }, 20000);
    await page.goto('/admin/ledger');
    expect(await page.locator('main').textContent()).toContain(`${report.runId} (operator)`);
    await screenshot(page, 'console-pages', 'ledger');
  });

  it('links a trade to its dispute, and the dispute back to the trade and to its parties', async () => {
    const { trade, traveler, counterparty } = await fundedTrade(api);
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
    });
    expect(opened.status).toBe(201);
    const page = await browser.page();
    await signIn(page, '/admin/trades?state=disputed');
    await page.locator(`a[href="/admin/disputes/${opened.body.id}"]`).click();
    await page.waitForURL(`**/admin/disputes/${opened.body.id}`);
    await page.locator(`a[href="/admin/trades/${trade.id}"]`).click();
    await page.waitForURL(`**/admin/trades/${trade.id}`);
    expect(await page.locator('main').textContent()).toContain('disputed');
    await page.goto(`/admin/disputes/${opened.body.id}`);
    await page.locator(`a[href="/admin/users/${counterparty.id}"]`).first().click();
    await page.waitForURL(`**/admin/users/${counterparty.id}`);
    expect(await page.locator('main').textContent()).toContain(counterparty.email);
  });

  it('changes nothing on a form post without the CSRF token, and no request leaves for another host', async () => {
    const traveler = await registerUser(api, 'traveler');
    const form = await send(test.baseUrl, 'GET', '/admin/sign-in');
    const signedIn = await send(test.baseUrl, 'POST', '/admin/sign-in', {
      cookie: cookieOf(form.cookies, 'yb_console_sign_in'),
      form: { email: operator.email, password: operator.password, csrf: hidden(form.text, 'csrf')!, next: '/admin' },
    });
    const cookie = cookieOf(signedIn.cookies, 'yb_session')!;
    const userPage = await send(test.baseUrl, 'GET', `/admin/users/${traveler.id}`, { cookie });
    expect(userPage.status).toBe(200);
    const csrf = hidden(userPage.text, 'csrf')!;
    const before = (await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body.runId;

    for (const [path, fields] of [
      [`/admin/users/${traveler.id}/suspend`, { reason: 'forged', confirm: 'yes' }],
      [`/admin/users/${traveler.id}/tier`, { tier: '2', confirm: 'yes' }],
      ['/admin/ledger/reconciliation', {}],
    ] as const) {
      for (const token of [undefined, 'forged']) {
        const answer = await send(test.baseUrl, 'POST', path, { cookie, form: token ? { ...fields, csrf: token } : fields });
        expect({ path, status: answer.status }).toEqual({ path, status: 403 });
      }
    }
    expect(await adminView(traveler.id)).toMatchObject({ suspended: false, tier: 0 });
    const audit = await api('GET', `/v1/admin/audit?operatorId=${operator.id}`, { token: operator.token });
    expect(audit.body.data.filter((entry: { targetId: string }) => entry.targetId === traveler.id)).toEqual([]);
    expect((await api('GET', '/v1/admin/reconciliation', { token: operator.token })).body.runId).toBe(before);

    // The same post with the token goes through (the refusals above were the token's doing).
    const accepted = await send(test.baseUrl, 'POST', `/admin/users/${traveler.id}/tier`, {
      cookie,
      form: { tier: '1', confirm: 'yes', csrf },
    });
    expect([accepted.status, accepted.headers.get('location')]).toEqual([303, `/admin/users/${traveler.id}?done=tier`]);
    expect((await adminView(traveler.id)).tier).toBe(1);

    // The queue dashboard in the browser asks nothing of another host either (the afterEach checks).
    const page = await browser.page();
    await signIn(page, '/admin/queues');
    await page.waitForLoadState('networkidle');
    await page.getByText('housekeeping').first().waitFor();
  });
});
