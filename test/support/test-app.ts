import type { Queue } from 'bullmq';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { createServer, AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createApp } from '../../src/bootstrap/create-app';
import { loadDatabaseConfig, loadRedisConfig } from '../../src/config';
import { preflight } from '../../src/database/preflight';
import { deploymentKeyPattern } from '../../src/queues/queue-keys';

const BASE_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestApp {
  app: NestFastifyApplication;
  port: number;
  baseUrl: string;
  databaseUrl: string;
  queuePrefix: string;
  logFile: string;
  readLog(): string;
  close(): Promise<void>;
}

/** Cheap hashing, fast relays and lifted rate limits: tests measure behaviour, not cost. */
export const TEST_SPEED: Record<string, string> = {
  ARGON2_MEMORY_KIB: '4096',
  ARGON2_TIME_COST: '1',
  OUTBOX_POLL_INTERVAL_MS: '100',
  RATE_LIMIT_PER_IP: '100000',
  RATE_LIMIT_PER_USER: '100000',
};

/**
 * Starts the whole service on a loopback port, with its own fresh database (created from the
 * migrations) and its own BullMQ key prefix, so test files never see each other's data. With `workers: false` it is
 * an API process only (RUN_WORKERS=false): another process must run the workers and the outbox relay.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  sharing?: TestApp,
  options: { workers?: boolean } = {},
): Promise<TestApp> {
  const suffix = randomBytes(5).toString('hex');
  // A second process of the same deployment shares the first one's database and queues.
  const databaseUrl = new URL(sharing?.databaseUrl ?? BASE_DATABASE_URL);
  if (!sharing) databaseUrl.pathname = `/yb_test_${suffix}`;
  const queuePrefix = sharing?.queuePrefix ?? `{ybt_${suffix}}`;
  const logFile = join(mkdtempSync(join(tmpdir(), 'yb-test-')), 'app.log');

  // The port is chosen before the start, so configuration that names the service's own URL (the PayPal
  // adapter's base in sandbox mode) points at this instance.
  const port = await freePort();
  const saved = { ...process.env };
  Object.assign(process.env, {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    LOG_FILE: logFile,
    LOG_LEVEL: 'info',
    ...TEST_SPEED,
    PORT: String(port),
    ...env,
  });

  await preflight(loadDatabaseConfig(), loadRedisConfig());
  const app = await createApp({ workers: options.workers ?? true });
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  process.env = saved;

  return {
    app,
    port: address.port,
    baseUrl: `http://127.0.0.1:${address.port}`,
    databaseUrl: databaseUrl.toString(),
    queuePrefix,
    logFile,
    readLog: () => readFileSync(logFile, 'utf8'),
    async close() {
      await app.close();
      if (sharing) return;
      await dropDatabase(databaseUrl.toString());
      await deleteRedisKeys(queuePrefix);
    },
  };
}

/** A loopback port nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function dropDatabase(url: string): Promise<void> {
  const maintenance = new URL(url);
  const name = maintenance.pathname.slice(1);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Deletes this run's keys only (its own and every queue's): never FLUSHDB, other runs may share the server. */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', deploymentKeyPattern(prefix), 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Polls until the check passes; bounded, so a broken feature fails the test instead of hanging it. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits for a job to complete and returns what it returned, read after completion (a job read while active has none yet). */
export async function completedJobResult(queue: Queue, jobId: string, timeoutMs = 10000): Promise<unknown> {
  return eventually(async () => {
    const job = await queue.getJob(jobId);
    if (!job || (await job.getState()) !== 'completed') return undefined;
    return { value: (await queue.getJob(jobId))!.returnvalue };
  }, timeoutMs).then((found) => found.value);
}
