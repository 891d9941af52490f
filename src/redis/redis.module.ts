import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { redisConfig } from '../config';

export const REDIS = Symbol('REDIS');
/** A client whose keys carry the rate limiter's prefix, so a deployment's (or a test run's) keys stay together. */
export const THROTTLER_REDIS = Symbol('THROTTLER_REDIS');

/** ioredis options from REDIS_URL, shared by the service's own client and BullMQ's connections. */
export function redisOptions(config: ConfigType<typeof redisConfig>) {
  const url = new URL(config.url);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    connectTimeout: config.connectTimeoutMs,
  };
}

/** One shared client for rate limits and health checks; BullMQ keeps its own connections. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [redisConfig.KEY],
      useFactory: (config: ConfigType<typeof redisConfig>) => new Redis({ ...redisOptions(config), maxRetriesPerRequest: 2 }),
    },
    {
      provide: THROTTLER_REDIS,
      inject: [redisConfig.KEY],
      useFactory: (config: ConfigType<typeof redisConfig>) =>
        new Redis({ ...redisOptions(config), keyPrefix: `${config.keyPrefix}throttle:`, maxRetriesPerRequest: 2 }),
    },
  ],
  exports: [REDIS, THROTTLER_REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(THROTTLER_REDIS) private readonly throttlerRedis: Redis,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    for (const client of [this.redis, this.throttlerRedis]) await client.quit().catch(() => client.disconnect());
  }
}
