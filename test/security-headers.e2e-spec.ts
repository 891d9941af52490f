import { registerUser } from './support/factories';
import { useTestApp } from './support/use-test-app';

/** What changes from one response to the next, or is no part of a response's security (rate limits, set per test). */
const VARYING = new Set(['date', 'x-request-id', 'content-length', 'keep-alive', 'connection']);
const varies = (name: string) => VARYING.has(name) || name.startsWith('x-ratelimit-');

/** The policy every response gets, the API's and the docs' alike; console pages replace it with their own. */
const SERVICE_CSP =
  "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;" +
  "object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' 'unsafe-inline';upgrade-insecure-requests";

const COMMON = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

const SERVICE = { ...COMMON, 'content-security-policy': SERVICE_CSP, 'referrer-policy': 'no-referrer', 'x-frame-options': 'SAMEORIGIN' };

const CONSOLE = {
  ...COMMON,
  'content-security-policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/**
 * Every header of a response of each kind the service serves: the API (an answer and a refusal), the API docs and
 * the operator console. Pinned whole, so that a header added, lost or changed anywhere shows here.
 */
describe('security headers (HTTP)', () => {
  const { test, api } = useTestApp();

  async function headersOf(path: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${test.baseUrl}${path}`, { headers, redirect: 'manual' });
    await response.arrayBuffer();
    const pinned: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!varies(name)) pinned[name] = value;
    });
    return { status: response.status, headers: pinned };
  }

  it('answers the API with the service-wide set', async () => {
    const user = await registerUser(api, 'traveler');
    expect(await headersOf('/v1/offers?limit=5', { authorization: `Bearer ${user.token}` })).toEqual({
      status: 200,
      headers: { ...SERVICE, 'content-type': 'application/json; charset=utf-8' },
    });
    expect(await headersOf('/v1/offers?limit=5')).toEqual({
      status: 401,
      headers: {
        ...SERVICE,
        'content-type': 'application/problem+json; charset=utf-8',
        'www-authenticate': 'Bearer realm="yuanbridge"',
      },
    });
    expect(await headersOf('/health/live')).toEqual({
      status: 200,
      headers: { ...SERVICE, 'content-type': 'application/json; charset=utf-8' },
    });
  });

  it('answers the API docs with the service-wide set', async () => {
    expect(await headersOf('/docs')).toEqual({ status: 200, headers: { ...SERVICE, 'content-type': 'text/html' } });
    expect(await headersOf('/docs-json')).toEqual({
      status: 200,
      headers: { ...SERVICE, 'content-type': 'application/json; charset=utf-8' },
    });
    expect(await headersOf('/problems/unauthenticated')).toEqual({
      status: 200,
      headers: { ...SERVICE, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=3600' },
    });
  });

  it("answers console pages with the console's own", async () => {
    const signIn = await headersOf('/admin/sign-in');
    expect(signIn.headers['set-cookie']).toMatch(/^yb_console_sign_in=\S+; Max-Age=600; Path=\/admin\/sign-in; HttpOnly; SameSite=Strict$/);
    delete signIn.headers['set-cookie'];
    expect(signIn).toEqual({
      status: 200,
      headers: { ...CONSOLE, 'content-type': 'text/html; charset=utf-8' },
    });
    expect(await headersOf('/admin')).toEqual({
      status: 303,
      headers: { ...CONSOLE, location: '/admin/sign-in' },
    });
  });
});
