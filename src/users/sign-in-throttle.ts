import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { signInConfig } from '../config';
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
 * Unknown emails are counted the same way (the answer never says whether an account exists). The key is an
 * HMAC of the normalized email under the blind index key: no email in Redis, and no dictionary reverses it.
 */
@Injectable()
export class SignInThrottle {
  constructor(
    @Inject(THROTTLER_REDIS) private readonly redis: Redis,
    private readonly encryption: FieldEncryption,
    @Inject(signInConfig.KEY) private readonly config: ConfigType<typeof signInConfig>,
  ) {}

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
    return `sign-in-failures:${this.encryption.blindIndex(email, 'sign-in.email')}`;
  }
}
