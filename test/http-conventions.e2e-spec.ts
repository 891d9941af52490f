import { JwtService } from '@nestjs/jwt';
import { DEV_PAYPAL_CLIENT_ID, DEV_PAYPAL_CLIENT_SECRET } from '../src/config';
import { registerUser, TestUser } from './support/factories';
import type { ApiResponse } from './support/http';
import { useTestApp } from './support/use-test-app';

/** API.md's HTTP conventions a client meets first: media types, credentials, methods, problem types. */
describe('HTTP conventions (HTTP)', () => {
  const { api, test } = useTestApp({ BODY_LIMIT_BYTES: '2048' });
  let traveler: TestUser;

  beforeAll(async () => {
    traveler = await registerUser(api, 'traveler');
  });

  function expectProblem(response: ApiResponse, status: number, code: string) {
    expect([response.status, response.body?.code]).toEqual([status, code]);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  }

  describe('a /v1 body that is not JSON → 415 unsupported_media_type', () => {
    const login = { email: 'someone@example.com', password: 'a long password' };
    const notJson: Array<[string, string]> = [
      // What curl -d sends without a content type.
      ['application/x-www-form-urlencoded', `email=${encodeURIComponent(login.email)}&password=a+long+password`],
      ['text/plain', JSON.stringify(login)],
      ['text/plain; charset=utf-8', JSON.stringify(login)],
      ['multipart/form-data; boundary=xyz', `--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\n${login.email}\r\n--xyz--\r\n`],
      ['application/xml', '<login/>'],
    ];

    it.each(notJson)('%s, on an anonymous route and on one that needs credentials (before the 401)', async (contentType, rawBody) => {
      const signIn = await api('POST', '/v1/auth/login', { rawBody, headers: { 'content-type': contentType } });
      expectProblem(signIn, 415, 'unsupported_media_type');
      expect(signIn.body.detail).toContain(contentType.split(';')[0]);
      expectProblem(
        await api('POST', '/v1/me/api-keys', { rawBody, headers: { 'content-type': contentType } }),
        415,
        'unsupported_media_type',
      );
      expectProblem(
        await api('PUT', '/v1/me/wechat-wallet', { token: traveler.token, rawBody, headers: { 'content-type': contentType } }),
        415,
        'unsupported_media_type',
      );
    });

    it('a body with no content type at all, and one larger than the limit, are refused before anything else too', async () => {
      const bare = await fetch(`${test.baseUrl}/v1/auth/login`, { method: 'POST', body: new Uint8Array(Buffer.from('{"email":"a"}')) });
      expect([bare.status, ((await bare.json()) as { code: string }).code]).toEqual([415, 'unsupported_media_type']);
      const large = await api('POST', '/v1/me/api-keys', {
        rawBody: `{"name":"${'x'.repeat(5000)}"}`,
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(large, 413, 'payload_too_large');
      const malformed = await api('POST', '/v1/me/api-keys', { rawBody: '{"name":', headers: { 'content-type': 'application/json' } });
      expectProblem(malformed, 400, 'malformed_json');
    });

    it('JSON and +json bodies, and requests without a body, are served as before', async () => {
      const json = await api('POST', '/v1/auth/login', { body: { email: traveler.email, password: traveler.password } });
      expect(json.status).toBe(200);
      const merge = await api('POST', '/v1/auth/login', {
        body: { email: traveler.email, password: traveler.password },
        headers: { 'content-type': 'application/merge-patch+json; charset=utf-8' },
      });
      expect(merge.status).toBe(200);
      expect((await api('POST', `/v1/requests/00000000-0000-4000-8000-000000000000/cancel`, { token: traveler.token })).status).toBe(404);
    });

    it("the sandbox's provider APIs keep their forms (PayPal's OAuth token is form-encoded)", async () => {
      const credentials = Buffer.from(`${DEV_PAYPAL_CLIENT_ID}:${DEV_PAYPAL_CLIENT_SECRET}`).toString('base64');
      const token = await api('POST', '/sandbox/paypal/v1/oauth2/token', {
        rawBody: 'grant_type=client_credentials',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${credentials}` },
      });
      expect(token.status).toBe(200);
      expect(token.body.access_token).toEqual(expect.any(String));
    });
  });

  describe('a 401 says which credential failed, in WWW-Authenticate and in the detail', () => {
    const challenge = (response: ApiResponse) => response.headers.get('www-authenticate');

    it('no credentials: the Bearer realm alone', async () => {
      const response = await api('GET', '/v1/me');
      expectProblem(response, 401, 'unauthenticated');
      expect(challenge(response)).toBe('Bearer realm="yuanbridge"');
      expect(response.body.detail).toMatch(/no credentials/i);
    });

    it('an expired token: invalid_token, "expired", not answered like a missing one', async () => {
      const expired = await test.app.get(JwtService).signAsync({ sub: traveler.id, role: 'traveler' }, { expiresIn: -60 });
      const response = await api('GET', '/v1/me', { token: expired });
      expectProblem(response, 401, 'unauthenticated');
      expect(challenge(response)).toBe('Bearer realm="yuanbridge", error="invalid_token", error_description="The access token expired"');
      expect(response.body.detail).toMatch(/expired/);
    });

    it('a token that is not ours, or not a token: invalid_token, "invalid"', async () => {
      const forged = await new JwtService({ secret: 'another-secret-that-is-at-least-32-characters' }).signAsync({ sub: traveler.id });
      for (const token of [forged, 'not-a-jwt', `${traveler.token.slice(0, -4)}AAAA`]) {
        const response = await api('GET', '/v1/me', { token });
        expectProblem(response, 401, 'unauthenticated');
        expect(challenge(response)).toBe(
          'Bearer realm="yuanbridge", error="invalid_token", error_description="The access token is invalid"',
        );
        expect(response.body.detail).toMatch(/invalid/);
      }
    });

    it('a wrong API key, and an Authorization that is not Bearer, say so too', async () => {
      const key = await api('GET', '/v1/me', { apiKey: 'yb_live_0000000000000000000000' });
      expectProblem(key, 401, 'unauthenticated');
      expect(challenge(key)).toBe('Bearer realm="yuanbridge"');
      expect(key.body.detail).toMatch(/API key/);
      const basic = await api('GET', '/v1/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expectProblem(basic, 401, 'unauthenticated');
      expect(challenge(basic)).toMatch(/^Bearer realm="yuanbridge", error="invalid_request"/);
    });

    it("a 401 that is not the guard's (a wrong password at sign-in) names the scheme as well", async () => {
      const response = await api('POST', '/v1/auth/login', { body: { email: traveler.email, password: 'not the password' } });
      expectProblem(response, 401, 'unauthenticated');
      expect(challenge(response)).toBe('Bearer realm="yuanbridge"');
    });

    it('a valid token is served', async () => {
      expect((await api('GET', '/v1/me', { token: traveler.token })).status).toBe(200);
    });
  });

  describe('a path served with other methods → 405 method_not_allowed with Allow', () => {
    const someId = '00000000-0000-4000-8000-000000000000';

    it.each([
      ['DELETE', '/v1/offers', 'GET, HEAD, POST'],
      ['PUT', '/v1/auth/login', 'POST'],
      ['GET', '/v1/auth/login', 'POST'],
      ['DELETE', `/v1/offers/${someId}`, 'GET, HEAD'],
      ['GET', `/v1/requests/${someId}/accept`, 'POST'],
      ['PATCH', `/v1/trades/${someId}/events`, 'GET, HEAD'],
    ])('%s %s → Allow: %s, before any credential is asked for', async (method, path, allow) => {
      for (const token of [undefined, traveler.token]) {
        const response = await api(method, path, { token });
        expectProblem(response, 405, 'method_not_allowed');
        expect(response.headers.get('allow')).toBe(allow);
      }
    });

    it('a path that does not exist stays 404, whatever the method', async () => {
      for (const [method, path] of [
        ['GET', '/v1/offerz'],
        ['DELETE', '/v1/offerz'],
        ['POST', `/v1/offers/${someId}/nothing`],
        ['GET', '/v1'],
      ]) {
        const response = await api(method, path, { token: traveler.token });
        expectProblem(response, 404, 'not_found');
        expect(response.headers.get('allow')).toBeNull();
      }
    });

    it('a body that is not JSON is still refused first (415), and HEAD is served where GET is', async () => {
      const form = await api('DELETE', '/v1/offers', { rawBody: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expectProblem(form, 415, 'unsupported_media_type');
      expect((await api('HEAD', '/v1/rates/usd-cny')).status).toBe(200);
    });
  });

  describe("problems' types resolve: /problems/<code> is a page of the service", () => {
    it('the type of a problem the service answers leads to a page naming its code, status, meaning and remedy', async () => {
      for (const [response, code, status] of [
        [await api('GET', '/v1/me'), 'unauthenticated', 401],
        [await api('GET', '/v1/users/nope', { token: traveler.token }), 'validation_failed', 400],
        [await api('DELETE', '/v1/offers'), 'method_not_allowed', 405],
        [await api('GET', '/v1/offerz'), 'not_found', 404],
      ] as const) {
        expect(response.body.type).toBe(`/problems/${code}`);
        // A relative reference, resolved against the request's address (RFC 9457 §3.1.1).
        const page = await fetch(new URL(response.body.type, `${test.baseUrl}/v1/me`));
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        const html = await page.text();
        expect(html).toContain(`<code>${code}</code>`);
        expect(html).toContain(`<dd>${status}</dd>`);
        expect(html).toMatch(/What it means<\/dt><dd>[^<]{10,}/);
        expect(html).toMatch(/What to do<\/dt><dd>[^<]{5,}/);
        // Self-contained: no script, no asset from elsewhere.
        expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
      }
    });

    it('every code has its page, listed on the index; an unknown code is 404', async () => {
      const index = await api('GET', '/problems');
      expect(index.status).toBe(200);
      const codes = [...index.text.matchAll(/href="\/problems\/(\w+)"/g)].map((m) => m[1]);
      expect(codes).toEqual(expect.arrayContaining(['unsupported_media_type', 'reference_rate_stale', 'method_not_allowed']));
      for (const code of codes) expect([code, (await api('GET', `/problems/${code}`)).status]).toEqual([code, 200]);
      const unknown = await api('GET', '/problems/no_such_code');
      expectProblem(unknown, 404, 'not_found');
      expectProblem(await api('GET', '/problems/unsupported-media-type'), 404, 'not_found');
    });
  });

  describe('cursors are opaque and signed: one the service did not issue → 400 validation_failed on cursor', () => {
    const expectCursorRefused = (response: ApiResponse) => {
      expectProblem(response, 400, 'validation_failed');
      expect(response.body.errors).toEqual([{ field: 'cursor', code: 'invalid_cursor', message: expect.any(String) }]);
    };

    it('a real cursor pages; the same position forged, edited, truncated or from another list does not', async () => {
      const owner = await registerUser(api, 'counterparty');
      for (const name of ['k0', 'k1', 'k2']) await api('POST', '/v1/me/api-keys', { token: owner.token, body: { name } });
      const first = await api('GET', '/v1/me/api-keys?limit=1', { token: owner.token });
      const cursor: string = first.body.nextCursor;
      expect(cursor).toEqual(expect.any(String));
      const second = await api('GET', `/v1/me/api-keys?limit=1&cursor=${cursor}`, { token: owner.token });
      expect(second.status).toBe(200);
      expect(second.body.data.map((k: { name: string }) => k.name)).toEqual(['k1']);

      const [payload, tag] = cursor.split('.');
      const position = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { t: string; id: string };
      // What a client could build before: the position, unsigned.
      const unsigned = Buffer.from(JSON.stringify(position)).toString('base64url');
      // The next page's position, with the first one's tag.
      const edited = `${Buffer.from(JSON.stringify({ ...position, t: new Date(Date.parse(position.t) + 1).toISOString() })).toString('base64url')}.${tag}`;
      for (const forged of [unsigned, edited, cursor.slice(0, -2), `${cursor}x`]) {
        expectCursorRefused(await api('GET', `/v1/me/api-keys?limit=1&cursor=${forged}`, { token: owner.token }));
      }
      // Another list of the same shape ({t, id}) refuses it: the list is signed with the position.
      expectCursorRefused(await api('GET', `/v1/webhooks/endpoints?cursor=${cursor}`, { token: owner.token }));
      expectCursorRefused(await api('GET', `/v1/users/${owner.id}/ratings?cursor=${cursor}`, { token: owner.token }));
    });
  });
});
