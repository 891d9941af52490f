import { DomainError } from '../common/errors';
import { MAX_FUTURE_SKEW_MS, parseFeedAnswer } from './http-rate-feed';

describe('parseFeedAnswer: what a rate feed may answer', () => {
  const bounds = { minRate: 40000n, maxRate: 120000n };
  const now = Date.parse('2026-12-06T06:00:00Z');
  const answer = (body: unknown) => parseFeedAnswer(typeof body === 'string' ? body : JSON.stringify(body), bounds, now);

  it('takes a decimal rate and an ISO time, an old time as it is (the reference is then stale)', () => {
    expect(answer({ rate: '7.2400', asOf: '2026-12-06T05:59:00.000Z' })).toEqual({
      rate: 72400n,
      asOf: new Date('2026-12-06T05:59:00.000Z'),
    });
    expect(answer({ rate: '7.1', asOf: '2026-12-06T13:59:30+08:00' }).rate).toBe(71000n);
    expect(answer({ rate: '7.2400', asOf: '2026-11-01T00:00:00Z' }).asOf).toEqual(new Date('2026-11-01T00:00:00Z'));
  });

  it.each([
    ['not JSON', '<html>rate limited</html>'],
    ['an array', [{ rate: '7.24', asOf: '2026-12-06T05:59:00Z' }]],
    ['null', 'null'],
    ['a number rate', { rate: 7.24, asOf: '2026-12-06T05:59:00Z' }],
    ['a negative rate', { rate: '-7.24', asOf: '2026-12-06T05:59:00Z' }],
    ['a zero rate', { rate: '0.0000', asOf: '2026-12-06T05:59:00Z' }],
    ['five decimals', { rate: '7.24001', asOf: '2026-12-06T05:59:00Z' }],
    ['an exponent', { rate: '7e0', asOf: '2026-12-06T05:59:00Z' }],
    ['under the bounds', { rate: '0.7240', asOf: '2026-12-06T05:59:00Z' }],
    ['over the bounds', { rate: '72.4000', asOf: '2026-12-06T05:59:00Z' }],
    ['no asOf', { rate: '7.2400' }],
    ['a date without time', { rate: '7.2400', asOf: '2026-12-06' }],
    ['a time without zone', { rate: '7.2400', asOf: '2026-12-06T05:59:00' }],
    ['an impossible date', { rate: '7.2400', asOf: '2026-13-45T05:59:00Z' }],
    ['epoch milliseconds', { rate: '7.2400', asOf: now }],
    ['a time in the future', { rate: '7.2400', asOf: new Date(now + MAX_FUTURE_SKEW_MS + 1000).toISOString() }],
  ])('refuses %s as the feed not answering (503), never as a rate', (_name, body) => {
    let error: unknown;
    try {
      answer(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('service_unavailable');
  });

  it('allows a little clock skew', () => {
    expect(answer({ rate: '7.2400', asOf: new Date(now + 5000).toISOString() }).rate).toBe(72400n);
  });
});
