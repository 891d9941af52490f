import { DataSource, QueryRunner } from 'typeorm';
import { registerUser } from './support/factories';
import { client } from './support/http';
import { eventually, startTestApp, TestApp } from './support/test-app';

/**
 * When the database gives up for load (no pooled connection in time; statement and lock timeouts are mapped the
 * same way, see src/common/errors/overload.spec.ts) the answer is 503 service_busy with Retry-After, never a 500.
 * Its own file: the service's logger is per process, and this test reads the log of its own app.
 */
describe('the service with its pool exhausted (HTTP)', () => {
  let test: TestApp;

  beforeAll(async () => {
    // One connection, given up on after the shortest wait allowed; no workers, so nothing else asks for it.
    test = await startTestApp({ DATABASE_POOL_SIZE: '1', DATABASE_CONNECT_TIMEOUT_MS: '100' }, undefined, { workers: false });
  });
  afterAll(() => test?.close());

  it('answers 503 service_busy with Retry-After while no connection is free, logs one warning and no error, and serves again once one is', async () => {
    const api = client(test.baseUrl);
    const user = await registerUser(api, 'traveler');
    const me = () => api('GET', '/v1/me', { token: user.token });
    expect((await me()).status).toBe(200);

    const logLines = () =>
      test
        .readLog()
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line));
    // What the busy answer logs, not the start's: on a loaded machine a first connection may take over 100 ms
    // and TypeORM logs its retry as an error.
    const linesBefore = logLines().length;

    // The pool's one connection, held until the answer came.
    const held: QueryRunner = test.app.get(DataSource).createQueryRunner();
    await held.connect();
    const busy = await me().finally(() => held.release());
    expect(busy.status).toBe(503);
    expect(busy.headers.get('content-type')).toContain('application/problem+json');
    expect(busy.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(busy.body).toMatchObject({ status: 503, code: 'service_busy', title: 'Service busy' });

    const warnings = await eventually(async () => {
      const found = logLines().filter((l) => l.msg === 'Service busy');
      return found.length > 0 && found;
    });
    // Written while serving the request: it carries the request's id, method and path, as every such line does.
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 40,
        reason: 'pool_timeout',
        route: '/v1/me',
        req: { id: busy.headers.get('x-request-id'), method: 'GET', url: '/v1/me' },
      }),
    ]);
    expect(
      logLines()
        .slice(linesBefore)
        .filter((l) => l.level >= 50),
    ).toEqual([]);
    expect(JSON.stringify(warnings)).not.toContain(user.email);

    expect((await me()).status).toBe(200);
  });
});
