import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createYuanbridgeClient, ok, YuanbridgeProblem } from '../clients/typescript/src';
import type { Schema } from '../clients/typescript/src';
import { uniqueEmail } from './support/factories';
import { useTestApp } from './support/use-test-app';

const root = join(__dirname, '..');

/** An npm script of this repository, quietly; its exit status and what it printed. */
function npmRun(script: string, ...args: string[]) {
  const result = spawnSync('npm', ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])], { cwd: root, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the generated client and collection are those of the committed openapi.json', () => {
  it('the client schema (clients/typescript/src/schema.d.ts) is what openapi-typescript makes of it', () => {
    expect(npmRun('client:generate', '--check')).toMatchObject({ status: 0 });
  });

  it('the HTTP collection is what collections/generate.js makes of it', () => {
    expect(npmRun('collection', '--check')).toMatchObject({ status: 0 });
  });

  it('the demo and the benchmarks, which call the API through the client, type-check against it', () => {
    expect(npmRun('client:build')).toMatchObject({ status: 0 });
    const checked = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.scripts.json'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(checked.stdout).toBe('');
    expect(checked.status).toBe(0);
  }, 240000);
});

describe('the typed client against the service', () => {
  const { test } = useTestApp();

  async function signedUp() {
    const api = createYuanbridgeClient({ baseUrl: test.baseUrl });
    const email = uniqueEmail('client');
    const password = 'client password 1';
    await ok(api.POST('/v1/auth/register', { body: { email, password, displayName: 'Client', role: 'traveler' } }));
    const { accessToken } = await ok(api.POST('/v1/auth/login', { body: { email, password } }));
    return { email, token: accessToken };
  }

  it('sends the token, and the data of a 2xx comes back typed', async () => {
    const { email, token } = await signedUp();
    const me = await ok(createYuanbridgeClient({ baseUrl: `${test.baseUrl}/`, token }).GET('/v1/me'));
    expect(me).toMatchObject({ email, role: 'traveler' });
  });

  it('sends an API key as X-Api-Key', async () => {
    const { email, token } = await signedUp();
    const created = await ok(createYuanbridgeClient({ baseUrl: test.baseUrl, token }).POST('/v1/me/api-keys', { body: { name: 'bot' } }));
    const me = await ok(createYuanbridgeClient({ baseUrl: test.baseUrl, apiKey: created.key }).GET('/v1/me'));
    expect(me.email).toBe(email);
  });

  it('turns problem details into a YuanbridgeProblem with the status, the code and the field errors', async () => {
    const { token } = await signedUp();
    const client = createYuanbridgeClient({ baseUrl: test.baseUrl, token });
    // A JSON number where the contract wants a decimal string: what an untyped caller could send.
    const body = {
      amountCny: 2000,
      price: { type: 'floating', premiumBps: 0 },
      paymentMethod: 'paypal',
    } as unknown as Schema<'CreateRequestDto'>;
    const failure = await ok(client.POST('/v1/requests', { body })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(YuanbridgeProblem);
    const problem = failure as YuanbridgeProblem;
    expect({ status: problem.status, code: problem.code }).toEqual({ status: 400, code: 'validation_failed' });
    expect(problem.problem.errors?.map((error) => error.field)).toContain('amountCny');
    const anonymous = await ok(createYuanbridgeClient({ baseUrl: test.baseUrl }).GET('/v1/me')).catch((error: unknown) => error);
    expect(anonymous).toMatchObject({ status: 401, code: 'unauthenticated' });
  });

  it('sends a fresh Idempotency-Key with each POST when asked, and keeps a key the caller gives', async () => {
    const { token } = await signedUp();
    const sent: (string | null)[] = [];
    const fetchAndNote = (request: Request) => {
      sent.push(request.headers.get('Idempotency-Key'));
      return fetch(request);
    };
    const client = createYuanbridgeClient({ baseUrl: test.baseUrl, token, idempotencyKeys: true, fetch: fetchAndNote });
    const first = await client.POST('/v1/me/api-keys', { body: { name: 'one' } });
    const second = await client.POST('/v1/me/api-keys', { body: { name: 'one' } });
    expect([first.response.status, second.response.status]).toEqual([201, 201]);
    expect(first.data?.id).not.toBe(second.data?.id);
    const key = `client-test-${Date.now()}`;
    const kept = await client.POST('/v1/me/api-keys', { body: { name: 'two' }, params: { header: { 'Idempotency-Key': key } } });
    const replayed = await client.POST('/v1/me/api-keys', { body: { name: 'two' }, params: { header: { 'Idempotency-Key': key } } });
    expect(replayed.response.headers.get('Idempotent-Replayed')).toBe('true');
    expect(replayed.data?.id).toBe(kept.data?.id);
    await ok(client.GET('/v1/me'));
    expect(sent).toHaveLength(5);
    expect(sent[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(sent.slice(0, 2)).size).toBe(2);
    expect(sent.slice(2)).toEqual([key, key, null]);
  });
});
