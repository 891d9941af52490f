import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { redisConfig } from '../config';
import { REDIS } from '../redis/redis.module';

/**
 * Events every sink took, noted in Redis by their fan-out jobs (a sorted set by time) until the fan-out sweep writes
 * their `fanned_out_at` in one statement per batch: a fan-out commits nothing of its own. Redis is a cache of work:
 * a note lost with it leaves its event unmarked, and the sweep fans it out again (sinks deduplicate by its id).
 */
@Injectable()
export class FanOutMarks {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>,
  ) {}

  async noteFannedOut(eventId: string): Promise<void> {
    await this.redis.zadd(this.key(), Date.now(), eventId);
  }

  /** Up to `limit` noted events, oldest first; they stay noted until `forget`. */
  async oldest(limit: number): Promise<string[]> {
    return this.redis.zrange(this.key(), 0, limit - 1);
  }

  async isNoted(eventId: string): Promise<boolean> {
    return (await this.redis.zscore(this.key(), eventId)) !== null;
  }

  async forget(eventIds: string[]): Promise<void> {
    if (eventIds.length > 0) await this.redis.zrem(this.key(), ...eventIds);
  }

  private key(): string {
    return `${this.config.keyPrefix}events:fanned-out`;
  }
}
