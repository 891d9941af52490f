import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Queue } from 'bullmq';
import Redis, { RedisOptions } from 'ioredis';
import { redisConfig } from '../config';
import { queueKeyPrefix } from '../queues/queue-keys';
import { ALL_QUEUES } from '../queues/queue-names';
import { DEFAULT_JOB_OPTIONS } from '../queues/retry-policies';
import { redisOptions } from '../redis/redis.module';

/**
 * A connection on which a command reaches Redis now or fails now. ioredis otherwise keeps a command given while it
 * is disconnected (its offline queue), and sends again one left unanswered by a dropped connection, whenever Redis
 * is back: a publish that had timed out, its rows long given to the relay, could then land at any later time.
 */
export function sendNowOrFailOptions(config: ConfigType<typeof redisConfig>): RedisOptions {
  return { ...redisOptions(config), enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 };
}

/**
 * The queues the publisher after commit adds to, on one connection of its own (`sendNowOrFailOptions`), apart from
 * the connection the queues of `QueueRegistry` share, which keeps ioredis's defaults. Opened on first use; closed
 * by the publisher once its last publish has settled.
 */
@Injectable()
export class PublisherQueues {
  private connection?: Redis;
  private readonly queues = new Map<string, Queue>();

  constructor(@Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>) {}

  has(name: string): boolean {
    return (ALL_QUEUES as readonly string[]).includes(name);
  }

  get(name: string): Queue {
    if (!this.has(name)) throw new Error(`Unknown queue "${name}"`);
    let queue = this.queues.get(name);
    if (!queue) {
      this.connection ??= new Redis(sendNowOrFailOptions(this.config))
        // A failed publish reports itself (the publisher logs it and leaves its rows to the relay).
        .on('error', () => undefined);
      queue = new Queue(name, {
        connection: this.connection,
        prefix: queueKeyPrefix(this.config.queuePrefix, name),
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      }).on('error', () => undefined);
      this.queues.set(name, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    await Promise.allSettled(queues.map((queue) => queue.close()));
    const connection = this.connection;
    this.connection = undefined;
    await connection?.quit().catch(() => connection.disconnect());
  }
}
