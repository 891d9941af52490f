import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { DomainError } from '../../common/errors';
import { eventsConfig, redisConfig } from '../../config';
import { releaseLease, renewLease, takeLease } from '../../redis/leases';
import { REDIS } from '../../redis/redis.module';

/** `STREAMS_PER_USER` across every API process: a lease per open stream in Redis (`redis/leases.ts`). */
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
    if (!(await takeLease(this.redis, this.key(userId), this.config.streamsPerUser, streamId, this.leaseMs))) {
      throw DomainError.rateLimited(
        `At most ${this.config.streamsPerUser} streams may be open at once; close one first`,
        this.config.streamHeartbeatMs / 1000,
      );
    }
  }

  async renew(userId: string, streamId: string): Promise<void> {
    await renewLease(this.redis, this.key(userId), streamId, this.leaseMs);
  }

  async release(userId: string, streamId: string): Promise<void> {
    await releaseLease(this.redis, this.key(userId), streamId);
  }

  private key(userId: string): string {
    return `${this.redisSettings.keyPrefix}streams:${userId}`;
  }
}
