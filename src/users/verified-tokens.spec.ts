import { TokenClaims, VerifiedTokens } from './verified-tokens';

describe('VerifiedTokens', () => {
  let now: number;
  let checks: string[];
  const signed: Record<string, TokenClaims> = {
    good: { sub: 'u1', exp: 1000 },
    forever: { sub: 'u2' },
    later: { sub: 'u3', exp: 1000, nbf: 900 },
  };
  const verify = (token: string) => {
    checks.push(token);
    const claims = signed[token];
    if (!claims) throw Object.assign(new Error('invalid signature'), { name: 'JsonWebTokenError' });
    if (typeof claims.exp === 'number' && now >= claims.exp) throw Object.assign(new Error('jwt expired'), { name: 'TokenExpiredError' });
    return claims;
  };
  const tokens = (max = 10) => new VerifiedTokens(verify, max, () => now);

  beforeEach(() => {
    now = 500;
    checks = [];
  });

  it('checks a token once, then answers from memory until the second of its exp, then checks again', () => {
    const cache = tokens();
    expect(cache.claims('good')).toEqual({ sub: 'u1', exp: 1000 });
    now = 999;
    expect(cache.claims('good')).toEqual({ sub: 'u1', exp: 1000 });
    expect(checks).toEqual(['good']);
    now = 1000;
    expect(() => cache.claims('good')).toThrow(expect.objectContaining({ name: 'TokenExpiredError' }));
    expect(checks).toEqual(['good', 'good']);
    expect(cache.size).toBe(0);
  });

  it('never keeps a refusal, a token without exp or one with nbf', () => {
    const cache = tokens();
    expect(() => cache.claims('forged')).toThrow(expect.objectContaining({ name: 'JsonWebTokenError' }));
    expect(() => cache.claims('forged')).toThrow(expect.objectContaining({ name: 'JsonWebTokenError' }));
    cache.claims('forever');
    cache.claims('forever');
    cache.claims('later');
    cache.claims('later');
    expect(checks).toEqual(['forged', 'forged', 'forever', 'forever', 'later', 'later']);
    expect(cache.size).toBe(0);
  });

  it('holds at most its bound, dropping the oldest first', () => {
    for (let i = 0; i < 5; i += 1) signed[`t${i}`] = { sub: `u${i}`, exp: 1000 };
    const cache = tokens(3);
    for (let i = 0; i < 5; i += 1) cache.claims(`t${i}`);
    expect(cache.size).toBe(3);
    checks = [];
    cache.claims('t4');
    cache.claims('t0');
    expect(checks).toEqual(['t0']);
  });
});
