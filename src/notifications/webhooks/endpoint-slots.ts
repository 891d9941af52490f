import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { redisConfig, webhooksConfig } from '../../config';
import { REDIS } from '../../redis/redis.module';
import { DELIVERY_TIMEOUT_MS } from './webhook-sender';

/**
 * Takes a place for an attempt if the endpoint has fewer than the cap under way: one sorted set per endpoint, a
 * member per attempt scored by when its lease ends (Redis's clock, so every process agrees). A crashed worker's
 * places free themselves when their lease ends.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** An attempt lasts at most the delivery timeout; the lease adds room for the reads and writes around it. */
const LEASE_MS = DELIVERY_TIMEOUT_MS + 30_000;

/**
 * WEBHOOK_CONCURRENCY_PER_ENDPOINT across every worker process: an endpoint's attempts under way, so one dead
 * receiver holds a few of the queue's WEBHOOK_CONCURRENCY slots at most, never all of them.
 */
@Injectable()
export class EndpointSlots {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(redisConfig.KEY) private readonly redisSettings: ConfigType<typeof redisConfig>,
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
  ) {}

  /** Whether the attempt `holder` may go: false when the endpoint has its cap of attempts under way. */
  async acquire(endpointId: string, holder: string): Promise<boolean> {
    const taken = await this.redis.eval(ACQUIRE, 1, this.key(endpointId), this.config.concurrencyPerEndpoint, holder, LEASE_MS);
    return Number(taken) === 1;
  }

  async release(endpointId: string, holder: string): Promise<void> {
    await this.redis.zrem(this.key(endpointId), holder);
  }

  private key(endpointId: string): string {
    return `${this.redisSettings.keyPrefix}webhooks:in-flight:${endpointId}`;
  }
}
