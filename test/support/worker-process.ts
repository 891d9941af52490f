import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from './crash/cluster';
import type { TestApp } from './test-app';

const ROOT = join(__dirname, '..', '..');

export interface WorkerProcess {
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/**
 * A separate worker process (`node dist/src/worker.js`, built if the sources are newer) for an API started with
 * `startTestApp(…, { workers: false })`: the same database, queue prefix and sandbox base, the same settings.
 */
export async function startWorkerProcess(api: TestApp, settings: Record<string, string> = {}, timeoutMs = 60000): Promise<WorkerProcess> {
  ensureBuilt();
  const logFile = join(mkdtempSync(join(tmpdir(), 'yb-worker-')), 'worker.log');
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'worker.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      DATABASE_URL: api.databaseUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: api.queuePrefix,
      PORT: String(api.port),
      LOG_FILE: logFile,
      LOG_LEVEL: 'info',
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      OUTBOX_POLL_INTERVAL_MS: '100',
      RATE_LIMIT_PER_IP: '100000',
      RATE_LIMIT_PER_USER: '100000',
      WORKER_METRICS_PORT: '0',
      ...settings,
    },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const deadline = Date.now() + timeoutMs;
  while (!log().includes('Yuanbridge worker running')) {
    if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode}); see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the worker did not start within ${timeoutMs} ms; see ${logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    log,
    async stop() {
      process.off('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    },
  };
}
