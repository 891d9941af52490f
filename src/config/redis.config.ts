import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export function loadRedisConfig(env = process.env) {
  const read = new EnvReader(env);
  const url = read.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']);
  const queuePrefix = read.string('QUEUE_PREFIX', '{yb}');
  if (!/^\{[A-Za-z0-9_-]+\}$/.test(queuePrefix)) {
    read.fail(`QUEUE_PREFIX must be a hash tag such as {yb}, got "${queuePrefix}"`);
  }
  return read.done({
    url: url.toString(),
    connectTimeoutMs: read.int('REDIS_CONNECT_TIMEOUT_MS', 3000, { min: 100 }),
    /**
     * The deployment's prefix, a hash tag (`{yb}`). Each queue's BullMQ keys go under a tag of their own made from it
     * (`{yb:settlement}`, queues/queue-keys.ts): one slot per queue, which BullMQ needs on Redis Cluster, and
     * different slots for different queues. Tests give each run its own prefix.
     */
    queuePrefix,
    /** Prefix of the service's own keys (rate limits). */
    keyPrefix: `${queuePrefix}:`,
  });
}

export type RedisConfig = ReturnType<typeof loadRedisConfig>;

export const redisConfig = registerAs('redis', () => loadRedisConfig());
