import type { Redis } from 'ioredis';
import { loadAuthConfig, loadSignInConfig } from '../config';
import { SignInThrottle } from './sign-in-throttle';

const JWT_SECRET = 'a-test-jwt-secret-of-more-than-32-characters';
const BLIND_INDEX_KEYS = `b1:${Buffer.alloc(32, 1).toString('base64')},b2:${Buffer.alloc(32, 2).toString('base64')}`;

/** The Redis key the throttle counts an email's failures under, with the service configured from `env`. */
async function counterKey(env: Record<string, string>, email: string): Promise<string> {
  const keys: string[] = [];
  const redis = {
    eval: async (_script: string, _count: number, key: string) => {
      keys.push(key);
      return [1, 1];
    },
  } as unknown as Redis;
  await new SignInThrottle(redis, loadAuthConfig(env), loadSignInConfig(env)).attempt(email);
  return keys[0];
}

describe('SignInThrottle key', () => {
  const base = { NODE_ENV: 'test', JWT_SECRET, BLIND_INDEX_KEYS };

  it('stays the same when the active blind index key changes, so a rotation keeps every lockout', async () => {
    const before = await counterKey({ ...base, BLIND_INDEX_ACTIVE_KEY_ID: 'b1' }, 'victim@example.com');
    const after = await counterKey({ ...base, BLIND_INDEX_ACTIVE_KEY_ID: 'b2' }, 'victim@example.com');
    expect(after).toBe(before);
  });

  it('differs per email, holds no email, and is not computable without the secret', async () => {
    const key = await counterKey(base, 'victim@example.com');
    expect(key).toMatch(/^sign-in-failures:[0-9a-f]{64}$/);
    expect(key).not.toContain('victim');
    expect(await counterKey(base, 'other@example.com')).not.toBe(key);
    expect(await counterKey({ ...base, JWT_SECRET: `${JWT_SECRET}-other` }, 'victim@example.com')).not.toBe(key);
  });
});
