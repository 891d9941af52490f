import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { redisConfig, webhooksConfig } from '../../config';
import { releaseLease, takeLease } from '../../redis/leases';
import { REDIS } from '../../redis/redis.module';
import { DELIVERY_TIMEOUT_MS } from './webhook-sender';

/** An attempt lasts at most the delivery timeout; the lease adds room for the reads and writes around it. */
const LEASE_MS = DELIVERY_TIMEOUT_MS + 30_000;

/**
 * WEBHOOK_CONCURRENCY_PER_ENDPOINT across every worker process: an endpoint's attempts under way, so one dead
 * receiver holds a few of the queue's WEBHOOK_CONCURRENCY slots at most, never all of them. A lease per attempt in
 * Redis (`redis/leases.ts`): a crashed worker's places free themselves when their lease ends.
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
    return takeLease(this.redis, this.key(endpointId), this.config.concurrencyPerEndpoint, holder, LEASE_MS);
  }

  async release(endpointId: string, holder: string): Promise<void> {
    await releaseLease(this.redis, this.key(endpointId), holder);
  }

  private key(endpointId: string): string {
    return `${this.redisSettings.keyPrefix}webhooks:in-flight:${endpointId}`;
  }
}
