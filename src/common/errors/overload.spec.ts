import { QueryFailedError } from 'typeorm';
import { DomainError } from './domain-error';
import { overloadError, overloadReason } from './overload';
import { toProblem } from './problem';

const queryFailed = (code: string, message: string) =>
  new QueryFailedError('SELECT pg_advisory_xact_lock($1)', ['alice@example.com'], Object.assign(new Error(message), { code }));

describe('errors of load', () => {
  it.each([
    ['a statement timeout', queryFailed('57014', 'canceling statement due to statement timeout'), 'statement_timeout'],
    ['a lock timeout', queryFailed('55P03', 'canceling statement due to lock timeout'), 'lock_timeout'],
    ['too many connections', queryFailed('53300', 'sorry, too many clients already'), 'too_many_connections'],
    ['no pooled connection in time', new Error('timeout exceeded when trying to connect'), 'pool_timeout'],
    ['a connection not opened in time', new Error('Connection terminated due to connection timeout'), 'connect_timeout'],
  ])('answer %s with 503 service_busy and a Retry-After, not a 500', (_name, error, reason) => {
    expect(overloadReason(error)).toBe(reason);
    const problem = toProblem(error);
    expect(problem).toMatchObject({ status: 503, unexpected: false, body: { code: 'service_busy', status: 503, title: 'Service busy' } });
    expect(JSON.stringify(problem.body)).not.toContain('alice@example.com');
    expect(overloadError(error)?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('leave other database errors, a deadlock included, unexpected 500s', () => {
    for (const error of [
      queryFailed('23505', 'duplicate key value violates unique constraint'),
      queryFailed('40P01', 'deadlock detected'),
      new Error('something else timed out'),
      'timeout exceeded when trying to connect',
    ]) {
      expect(overloadReason(error)).toBeUndefined();
      expect(toProblem(error)).toMatchObject({ status: 500, unexpected: true, body: { code: 'internal_error' } });
    }
  });

  it('leave errors of our own as they are', () => {
    expect(toProblem(DomainError.unavailable('The reference feed is down', 30)).body.code).toBe('service_unavailable');
  });
});
