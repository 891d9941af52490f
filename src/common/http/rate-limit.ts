import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Injectable } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerModuleOptions } from '@nestjs/throttler';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import type { AuthUser } from '../auth/auth-user';
import type { HttpConfig } from '../../config';
import { addressGroup } from './address-group';

const ADDRESS = 'ip';
const USER = 'user';

/**
 * The two limits, both kept in Redis and shared by every process: requests per window from one address
 * (whatever the route, authenticated or not; an IPv6 address counts by its /64, `addressGroup`) and from one
 * user (token or API key, whatever the address).
 * The key is the limit's name and a hash of the address or user id, not the route: spreading requests over
 * routes earns no extra budget, and no address is stored in clear.
 */
export function rateLimitOptions(http: HttpConfig, redis: Redis): ThrottlerModuleOptions {
  return {
    throttlers: [
      { name: ADDRESS, ttl: http.rateLimitWindowMs, limit: http.rateLimitPerIp, getTracker: (req) => addressGroup(String(req.ip)) },
      {
        name: USER,
        ttl: http.rateLimitWindowMs,
        limit: http.rateLimitPerUser,
        getTracker: (req) => (req.user as AuthUser | undefined)?.id ?? String(req.ip),
        skipIf: (context) => !context.switchToHttp().getRequest<{ user?: AuthUser }>().user,
      },
    ],
    generateKey: (_context, tracker, name) => createHash('sha256').update(`${name}-${tracker}`).digest('hex'),
    // Given a client, the storage leaves closing it to its owner (RedisModule).
    storage: new ThrottlerStorageRedisService(redis),
  };
}

/**
 * The per-address limit, run before authentication: a request with a bad token or an unknown API key is
 * counted like any other, so guessing credentials does not escape the limit.
 */
@Injectable()
export class AddressRateLimitGuard extends ThrottlerGuard {
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    this.throttlers = this.throttlers.filter((throttler) => throttler.name === ADDRESS);
  }
}

/** The per-user limit, run once authentication knows the user. */
@Injectable()
export class UserRateLimitGuard extends ThrottlerGuard {
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    this.throttlers = this.throttlers.filter((throttler) => throttler.name === USER);
  }
}
