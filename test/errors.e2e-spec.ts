import { signPayload } from '../src/common/crypto/hmac-signature';
import { DEV_BANK_WEBHOOK_SECRET } from '../src/config';
import { registerUser, TestUser } from './support/factories';
import { useTestApp } from './support/use-test-app';

/** Every kind of bad input is a 4xx problem-details body that names the problem and shows no internals. */
describe('problem details for bad input (HTTP)', () => {
  const { api } = useTestApp({ BODY_LIMIT_BYTES: '2048' });
  let user: TestUser;

  beforeAll(async () => {
    user = await registerUser(api, 'counterparty');
  });

  function expectProblem(response: { status: number; headers: Headers; body: any; text: string }, status: number, code: string) {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), code });
    expect(response.text).not.toMatch(/at .*\.(js|ts):\d+|node_modules|stack|QueryFailedError|TypeError/);
  }

  /** Sends `rawBody` as is to create an API key, as `contentType`. */
  const postRawKey = (rawBody: string, contentType = 'application/json') =>
    api('POST', '/v1/me/api-keys', { token: user.token, rawBody, headers: { 'content-type': contentType } });

  it('malformed JSON → 400 malformed_json', async () => {
    const response = await api('POST', '/v1/auth/register', {
      rawBody: '{"email": "a@b.co",',
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(response, 400, 'malformed_json');
  });

  it('a content type other than JSON → 415 unsupported_media_type', async () => {
    const response = await postRawKey('<xml/>', 'application/xml');
    expectProblem(response, 415, 'unsupported_media_type');
  });

  it('a +json content type is JSON, parsed with the same checks', async () => {
    for (const contentType of ['application/merge-patch+json', 'application/vnd.api+json; charset=utf-8']) {
      const bad = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 7 }, headers: { 'content-type': contentType } });
      expectProblem(bad, 400, 'validation_failed');
      const deep = await postRawKey('['.repeat(40), contentType);
      expectProblem(deep, 400, 'malformed_json');
    }
    expectProblem(await postRawKey('{}', 'application/jsonx'), 415, 'unsupported_media_type');
  });

  it('an oversized body → 413 payload_too_large', async () => {
    const response = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'x'.repeat(5000) } });
    expectProblem(response, 413, 'payload_too_large');
  });

  it('unknown fields → 400 validation_failed naming each field', async () => {
    const response = await api('POST', '/v1/auth/register', {
      body: { email: 'not-an-email', password: 'short', displayName: 'X', role: 'traveler', isAdmin: true, tier: 2 },
    });
    expectProblem(response, 400, 'validation_failed');
    const fields = response.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['email', 'isAdmin', 'password', 'tier']);
    expect(response.body.errors.find((e: { field: string }) => e.field === 'isAdmin').code).toBe('unknown_field');
    for (const error of response.body.errors)
      expect(error).toEqual({ field: expect.any(String), code: expect.any(String), message: expect.any(String) });
  });

  it('a JSON number where a string belongs, and missing fields → 400', async () => {
    const response = await api('POST', '/v1/auth/login', { body: { email: 42 } });
    expectProblem(response, 400, 'validation_failed');
    expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['email', 'password']);
  });

  it('a body that is not an object, or no body at all → 400', async () => {
    expectProblem(await api('POST', '/v1/auth/login', { body: ['a', 'b'] }), 400, 'validation_failed');
    expectProblem(await api('POST', '/v1/auth/login', { body: 'just a string' }), 400, 'validation_failed');
    expectProblem(await api('POST', '/v1/auth/login', { body: null }), 400, 'validation_failed');
    expectProblem(await api('POST', '/v1/auth/login'), 400, 'validation_failed');
    expectProblem(
      await api('POST', '/v1/auth/login', { rawBody: '', headers: { 'content-type': 'application/json' } }),
      400,
      'validation_failed',
    );
  });

  it('a bad UUID in the path → 400 naming the parameter', async () => {
    const response = await api('GET', '/v1/users/not-a-uuid', { token: user.token });
    expectProblem(response, 400, 'validation_failed');
    expect(response.body.errors).toEqual([{ field: 'id', code: 'invalid_uuid', message: expect.any(String) }]);
  });

  it('a bad query value → 400 naming it', async () => {
    const response = await api('GET', '/v1/me/api-keys?limit=1000', { token: user.token });
    expectProblem(response, 400, 'validation_failed');
    expect(response.body.errors[0].field).toBe('limit');
    expectProblem(await api('GET', '/v1/me/api-keys?limit=abc', { token: user.token }), 400, 'validation_failed');
    expectProblem(await api('GET', '/v1/me/api-keys?sort=desc', { token: user.token }), 400, 'validation_failed');
  });

  it('a NUL character, which PostgreSQL text cannot hold → 400, not 500', async () => {
    const response = await postRawKey('{"name":"a\\u0000b"}');
    expectProblem(response, 400, 'malformed_json');
  });

  it('JSON nested deeper than JSON_MAX_DEPTH (32) → 400 malformed_json, however deep, and the limit itself passes', async () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    for (const rawBody of [nested(33), nested(1000), '['.repeat(1000), `{"email":${nested(40)},"password":"x"}`]) {
      const response = await api('POST', '/v1/auth/login', { rawBody, headers: { 'content-type': 'application/json' } });
      expectProblem(response, 400, 'malformed_json');
      expect(response.body.detail).toMatch(/too deeply/);
    }
    // Brackets inside strings are text, not depth.
    const inString = await api('POST', '/v1/auth/login', { body: { email: '['.repeat(1000), password: 'x' } });
    expect(inString.body.code).toBe('validation_failed');
    const atLimit = await api('POST', '/v1/auth/login', {
      rawBody: `{"email":${nested(31)}}`,
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(atLimit, 400, 'validation_failed');
  });

  it('a string escaping half a surrogate pair alone → 400 malformed_json, not a validator crash', async () => {
    for (const rawBody of ['{"email":"\\ud800","password":"a long password"}', '{"email":"a@b.co","password":"x\\udc00y"}']) {
      const response = await api('POST', '/v1/auth/login', { rawBody, headers: { 'content-type': 'application/json' } });
      expectProblem(response, 400, 'malformed_json');
    }
    const pair = await api('POST', '/v1/auth/login', { body: { email: 'a😀@b.co', password: 'a long password' } });
    expect(pair.body.code).not.toBe('malformed_json');
  });

  it('a path that is not valid percent-encoding, or a segment longer than any id → 400 naming the path', async () => {
    for (const path of ['/v1/users/%zz', '/v1/users/%C0%AF', `/v1/users/${'a'.repeat(200)}`]) {
      const response = await api('GET', path, { token: user.token });
      expectProblem(response, 400, 'validation_failed');
      expect(response.body.errors).toEqual([{ field: 'path', code: expect.any(String), message: expect.any(String) }]);
    }
  });

  it('a request line over the header size limit → 431 problem details from the HTTP parser, not its plain JSON', async () => {
    const response = await api('GET', `/v1/me/api-keys?cursor=${'x'.repeat(20000)}`, { token: user.token });
    expectProblem(response, 431, 'bad_request');
  });

  it('a signed bank callback whose ids could not be job ids → 400 naming the field, not a 500', async () => {
    const send = (event: unknown) => {
      const rawBody = JSON.stringify(event);
      const headers = { 'content-type': 'application/json', 'x-signature': signPayload(DEV_BANK_WEBHOOK_SECRET, rawBody) };
      return api('POST', '/v1/provider-webhooks/bank', { rawBody, headers });
    };
    for (const [event, field] of [
      [{ id: 'é'.repeat(300), type: 'transfer.settled', data: { id: 'BT1' } }, 'id'],
      [{ id: 'evt_1', type: 'transfer.settled', data: { id: 'a:b' } }, 'data.id'],
      [{ id: 'evt_1', type: 'return.settled', data: { id: 'BT1', returnsTransferId: 'x'.repeat(65) } }, 'data.returnsTransferId'],
    ] as const) {
      const response = await send(event);
      expectProblem(response, 400, 'validation_failed');
      expect(response.body.errors[0].field).toBe(field);
    }
  });

  it('a path served with other methods → 405 method_not_allowed with Allow; an unknown path or resource stays 404', async () => {
    const patch = await api('PATCH', '/v1/me', { token: user.token, body: {} });
    expectProblem(patch, 405, 'method_not_allowed');
    expect(patch.headers.get('allow')).toBe('GET, HEAD, DELETE');
    const del = await api('DELETE', '/v1/rates/usd-cny');
    expectProblem(del, 405, 'method_not_allowed');
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    const put = await api('PUT', `/v1/users/${user.id}`, { token: user.token, body: {} });
    expectProblem(put, 405, 'method_not_allowed');
    expectProblem(await api('GET', '/v1/users/00000000-0000-4000-8000-000000000000', { token: user.token }), 404, 'not_found');
  });

  it('an unknown route → 404 not_found', async () => {
    expectProblem(await api('GET', '/v1/nothing-here', { token: user.token }), 404, 'not_found');
  });

  it('names the request in `instance` so a client can quote it', async () => {
    const response = await api('GET', '/v1/users/not-a-uuid', { token: user.token, headers: { 'x-request-id': 'client-chosen-id-123' } });
    expect(response.headers.get('x-request-id')).toBe('client-chosen-id-123');
    expect(response.body.instance).toBe('/v1/users/not-a-uuid#client-chosen-id-123');
    const forged = await api('GET', '/v1/me', { token: user.token, headers: { 'x-request-id': 'bad id; with spaces {}' } });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('changes nothing when the input is bad', async () => {
    const before = await api('GET', '/v1/me/api-keys', { token: user.token });
    await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 7 } });
    await postRawKey('{');
    const after = await api('GET', '/v1/me/api-keys', { token: user.token });
    expect(after.body.data).toEqual(before.body.data);
  });
});
