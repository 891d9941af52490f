import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { createHmac, hkdfSync } from 'node:crypto';
import { DomainError } from '../common/errors';
import { authConfig, signInConfig } from '../config';
import { THROTTLER_REDIS } from '../redis/redis.module';

/**
 * Counts the attempt unless the email is locked, in one step, so concurrent guesses cannot all slip under the
 * limit. KEYS[1] the email's counter; ARGV max failures, window ms. Returns [1, count] when the attempt may go
 * on, [0, ms left] when the email is locked. The window starts at the first failure and is not extended.
 */
const ATTEMPT_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if count >= tonumber(ARGV[1]) then
  if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
  return {0, ttl}
end
count = redis.call('INCR', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, count}
`;

/**
 * Failed sign-ins per email, in Redis so every process shares them (LOGIN_MAX_FAILURES within
 * LOGIN_FAILURE_WINDOW_MS). Each attempt is counted before the password is checked, and a success clears the
 * count, so at most the limit's worth of guesses, concurrent ones included, are ever checked in a window.
 * Unknown emails are counted the same way (the answer never says whether an account exists). The key is
 * `signInThrottleKey`: no email in Redis, no dictionary reverses it, and a blind index key rotation does not
 * clear a lockout.
 */
@Injectable()
export class SignInThrottle {
  private readonly keyMaterial: Buffer;

  constructor(
    @Inject(THROTTLER_REDIS) private readonly redis: Redis,
    @Inject(authConfig.KEY) auth: ConfigType<typeof authConfig>,
    @Inject(signInConfig.KEY) private readonly config: ConfigType<typeof signInConfig>,
  ) {
    this.keyMaterial = signInThrottleKeyMaterial(auth.jwtSecret);
  }

  /** Counts an attempt for this (normalized) email, or throws 429 `rate_limited` while it is locked. */
  async attempt(email: string): Promise<void> {
    const [allowed, value] = (await this.redis.eval(
      ATTEMPT_SCRIPT,
      1,
      this.key(email),
      this.config.maxFailures,
      this.config.failureWindowMs,
    )) as [number, number];
    if (allowed !== 1)
      throw DomainError.rateLimited('Too many failed sign-ins for this account; retry after the time in Retry-After', value / 1000);
  }

  /** A sign-in with the right password: the count starts again. */
  async succeeded(email: string): Promise<void> {
    await this.redis.del(this.key(email));
  }

  private key(email: string): string {
    return signInThrottleKey(this.keyMaterial, email);
  }
}

const KEY_LABEL = 'yuanbridge sign-in throttle v1';

/**
 * The throttle's own HMAC key, derived (HKDF-SHA256, a fixed label) from JWT_SECRET: not a blind index key,
 * which rotates, so switching BLIND_INDEX_ACTIVE_KEY_ID keeps every lockout; and not the JWT secret itself.
 */
export function signInThrottleKeyMaterial(jwtSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(jwtSecret, 'utf8'), Buffer.alloc(0), KEY_LABEL, 32));
}

/** The Redis key of a normalized email's failure count: an HMAC of the email, never the email. */
export function signInThrottleKey(keyMaterial: Buffer, normalizedEmail: string): string {
  return `sign-in-failures:${createHmac('sha256', keyMaterial).update(normalizedEmail, 'utf8').digest('hex')}`;
}
