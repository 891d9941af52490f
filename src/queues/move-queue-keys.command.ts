import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/redis.config';
import { redisOptions } from '../redis/redis.module';
import { ALL_QUEUES } from './queue-names';
import { queueKeyPrefix } from './queue-keys';

/**
 * The service's own keys that share a queue's old name space (`{yb}:webhooks:in-flight:<endpoint>`, a client webhook
 * endpoint's delivery slots): they are not the queue's and stay where they are.
 */
const OWN_KEYS_UNDER_QUEUE_NAMES = [':webhooks:in-flight:'];

interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** A queue's keys under the deployment's old single tag: `{yb}:<queue>:…`, its own keys left out. */
async function oldKeysOf(redis: Redis, deploymentPrefix: string, queue: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `\\${deploymentPrefix}:${queue}:*`, 'COUNT', 1000);
    keys.push(...batch.filter((key) => !OWN_KEYS_UNDER_QUEUE_NAMES.some((own) => key.startsWith(`${deploymentPrefix}${own}`))));
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Workers connected to a queue under `prefix` (BullMQ names their connections). Writes nothing. */
async function workersOf(config: RedisConfig, queue: string, prefix: string): Promise<number> {
  const reader = new Queue(queue, { connection: redisOptions(config), prefix, skipMetasUpdate: true });
  try {
    return await reader.getWorkersCount();
  } finally {
    await reader.close();
  }
}

/**
 * `move-queue-keys`: once, when upgrading from a version that kept every queue under the deployment's one hash tag
 * (`{yb}:settlement:…`), renames each queue's keys to its own tag (`{yb:settlement}:settlement:…`), so that what was
 * queued (delayed deadlines, retries, the periodic schedules, the history the dashboard shows) carries on. Run it
 * with every process of both versions stopped; it refuses while a worker of either naming is connected, or once a
 * queue has keys under its new tag (the new version ran already: its sweeps have queued again from PostgreSQL what
 * was owed, and `--delete` removes the old keys instead). A plain Redis only: on a Redis Cluster a rename cannot
 * cross slots, and `--delete` is the way. With `--dry-run` it only counts.
 */
export async function moveQueueKeysCommand(config: RedisConfig, args: string[], io: Output): Promise<number> {
  const dryRun = args.includes('--dry-run');
  const remove = args.includes('--delete');
  const unknown = args.filter((arg) => !['--dry-run', '--delete'].includes(arg));
  if (unknown.length > 0) {
    io.err(`Unknown option ${unknown[0]}; use --dry-run or --delete`);
    return 2;
  }
  const redis = new Redis({ ...redisOptions(config), maxRetriesPerRequest: null });
  try {
    const plan: { queue: string; keys: string[]; target: string }[] = [];
    const refusals: string[] = [];
    for (const queue of ALL_QUEUES) {
      const target = queueKeyPrefix(config.queuePrefix, queue);
      const keys = await oldKeysOf(redis, config.queuePrefix, queue);
      if (keys.length === 0) continue;
      plan.push({ queue, keys, target });
      const workers = (await workersOf(config, queue, config.queuePrefix)) + (await workersOf(config, queue, target));
      if (workers > 0) refusals.push(`${queue}: ${workers} worker(s) connected; stop every process first`);
      if (!remove && (await redis.exists(`${target}:${queue}:meta`))) {
        refusals.push(`${queue}: already has keys under ${target}; the new version ran (use --delete)`);
      }
    }
    for (const { queue, keys, target } of plan) {
      io.out(`${queue}: ${keys.length} key(s) under ${config.queuePrefix}:${queue}: ${remove ? 'to delete' : `to move under ${target}`}`);
    }
    if (plan.length === 0) {
      io.out('No queue keys under the old names: nothing to do.');
      return 0;
    }
    if (refusals.length > 0) {
      refusals.forEach((line) => io.err(line));
      return 1;
    }
    if (dryRun) return 0;
    let done = 0;
    const left: string[] = [];
    for (const { queue, keys, target } of plan) {
      for (const key of keys) {
        // A key gone meanwhile (a lock expiring) is nothing to move; one whose new name is taken stays, and is said.
        const moved = remove
          ? await redis.unlink(key)
          : await redis.renamenx(key, `${target}${key.slice(config.queuePrefix.length)}`).catch(() => 0);
        if (moved) done += 1;
        else if (!remove && (await redis.exists(key))) left.push(key);
      }
      io.out(`${queue}: ${remove ? 'deleted' : 'moved'}`);
    }
    io.out(`${done} key(s) ${remove ? 'deleted' : 'moved'}.`);
    if (left.length > 0) io.err(`Not moved (the new name is taken): ${left.slice(0, 20).join(', ')}${left.length > 20 ? ', …' : ''}`);
    return left.length > 0 ? 1 : 0;
  } finally {
    redis.disconnect();
  }
}
