import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ensureBuilt } from './crash/cluster';
import { client, type Api } from './http';
import { deleteRedisKeys, dropDatabase, TEST_SPEED } from './test-app';

const ROOT = join(__dirname, '..', '..');
const BASE_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface SandboxProcess {
  child: ChildProcess;
  baseUrl: string;
  databaseUrl: string;
  queuePrefix: string;
  /** What it printed on stdout: its start lines, JSON. */
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * The provider mocks as their own process (`node dist/src/sandbox-main.js`, as `npm run start:sandbox` runs it,
 * built if the sources are newer), on `port` on the loopback, with a database and queue prefix of their own,
 * delivering their callbacks to `serviceUrl`. Ready once it says where it listens.
 */
export async function startSandboxProcess(
  port: number,
  serviceUrl: string,
  settings: Record<string, string> = {},
  timeoutMs = 60000,
): Promise<SandboxProcess> {
  ensureBuilt();
  const suffix = randomBytes(5).toString('hex');
  const database = new URL(BASE_DATABASE_URL);
  database.pathname = `/yb_mocks_${suffix}`;
  const queuePrefix = `{ybm_${suffix}}`;
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'sandbox-main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      DATABASE_URL: database.toString(),
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: queuePrefix,
      HOST: '127.0.0.1',
      SANDBOX_PORT: String(port),
      SANDBOX_SERVICE_URL: serviceUrl,
      ...TEST_SPEED,
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);
  const deadline = Date.now() + timeoutMs;
  while (!stdout.includes('Yuanbridge sandbox listening')) {
    if (child.exitCode !== null) throw new Error(`the sandbox exited (${child.exitCode}): ${stdout}${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the sandbox did not start within ${timeoutMs} ms: ${stdout}${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    databaseUrl: database.toString(),
    queuePrefix,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
        await exited;
        clearTimeout(timer);
      }
      await dropDatabase(database.toString());
      await deleteRedisKeys(queuePrefix);
    },
  };
}

/** One client for a service whose mocks run apart: `/sandbox/…` goes to the mocks, everything else to the service. */
export function serviceWithMocksApart(serviceUrl: string, mocksUrl: string): Api {
  const service = client(serviceUrl);
  const mocks = client(mocksUrl);
  return (method, path, options) => (path.startsWith('/sandbox/') ? mocks(method, path, options) : service(method, path, options));
}
