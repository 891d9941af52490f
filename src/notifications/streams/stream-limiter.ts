import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { DomainError } from '../../common/errors';
import { eventsConfig, redisConfig } from '../../config';
import { REDIS } from '../../redis/redis.module';

/**
 * Takes a place for a stream if the user holds fewer than the limit: one sorted set per user, a member per open
 * stream scored by when its lease ends (Redis's clock, so every process agrees). Leases run out unless renewed, so
 * a crashed process's streams free their places by themselves.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** `STREAMS_PER_USER` across every API process, kept in Redis. */
@Injectable()
export class StreamLimiter {
  /** A lease outlives a few missed heartbeats (a busy event loop), and no less than half a minute. */
  readonly leaseMs: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(redisConfig.KEY) private readonly redisSettings: ConfigType<typeof redisConfig>,
    @Inject(eventsConfig.KEY) private readonly config: ConfigType<typeof eventsConfig>,
  ) {
    this.leaseMs = Math.max(3 * config.streamHeartbeatMs, 30000);
  }

  /** Takes a place, or refuses with 429 `rate_limited` (Retry-After: a heartbeat, when another stream may have closed). */
  async acquire(userId: string, streamId: string): Promise<void> {
    const taken = await this.redis.eval(ACQUIRE, 1, this.key(userId), this.config.streamsPerUser, streamId, this.leaseMs);
    if (Number(taken) !== 1) {
      throw DomainError.rateLimited(
        `At most ${this.config.streamsPerUser} streams may be open at once; close one first`,
        this.config.streamHeartbeatMs / 1000,
      );
    }
  }

  async renew(userId: string, streamId: string): Promise<void> {
    await this.redis.eval(RENEW, 1, this.key(userId), streamId, this.leaseMs);
  }

  async release(userId: string, streamId: string): Promise<void> {
    await this.redis.zrem(this.key(userId), streamId);
  }

  private key(userId: string): string {
    return `${this.redisSettings.keyPrefix}streams:${userId}`;
  }
}
