import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from './support/crash/cluster';
import { describeFailure, otherShellFences, runShellBlocks, shellBlocks } from './support/readme';
import { deleteRedisKeys, dropDatabase, freePort } from './support/test-app';

/**
 * The README's hands-on sections are a script: every ```sh block (but those marked `<!-- readme-test: skip -->`)
 * runs as written, in order, in one bash shell, against the built service started as `npm start` starts it (API
 * and workers in one process, sandbox mode, default delays) on its own database, queue prefix and port, with the
 * `WEBHOOK_ALLOWED_HOSTS` the README asks for. The README's `BASE` comes from the environment.
 */

const ROOT = join(__dirname, '..');
const BASE_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Service {
  baseUrl: string;
  /** What the README's shell needs to reach this service and its database (`npm run cli`). */
  env: Record<string, string>;
  log(): string;
  stop(): Promise<void>;
}

async function startService(): Promise<Service> {
  ensureBuilt();
  const suffix = randomBytes(5).toString('hex');
  const url = new URL(BASE_DATABASE_URL);
  url.pathname = `/yb_test_${suffix}`;
  const port = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), 'yb-readme-service-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'test',
    DATABASE_URL: url.toString(),
    REDIS_URL,
    QUEUE_PREFIX: `{ybt_${suffix}}`,
    // Cheaper password hashes only; every delay and poll is the default a reader's `npm start` has.
    ARGON2_MEMORY_KIB: '4096',
    ARGON2_TIME_COST: '1',
  };
  const logFile = join(logDir, 'service.log');
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: { ...env, HOST: '127.0.0.1', PORT: String(port), LOG_FILE: logFile, WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WORKER_METRICS_PORT: '0' },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const baseUrl = `http://127.0.0.1:${port}`;
  const service: Service = {
    baseUrl,
    env: { ...env, BASE: baseUrl, LOG_FILE: join(logDir, 'cli.log') },
    log,
    async stop() {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
        await exited;
        clearTimeout(timer);
      }
      await dropDatabase(url.toString());
      await deleteRedisKeys(env.QUEUE_PREFIX);
    },
  };
  const deadline = Date.now() + 60000;
  for (;;) {
    const ready = await fetch(`${baseUrl}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return service;
    if (child.exitCode !== null || Date.now() > deadline) {
      await service.stop();
      throw new Error(`the service did not start (exit ${child.exitCode}):\n${log().slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('README.md: the shell snippets', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  let service: Service;

  beforeAll(async () => {
    service = await startService();
  }, 240000);

  afterAll(async () => {
    await service?.stop();
  });

  it('are all in sh blocks, where this test finds them', () => {
    const sample = [
      '```sh',
      'echo one',
      '```',
      '',
      '<!-- readme-test: skip -->',
      '```sh',
      'npm start',
      '```',
      '```js',
      'x()',
      '```',
      '```sh',
      'echo two',
      '```',
    ];
    expect(shellBlocks(sample.join('\n'))).toEqual([
      { line: 1, text: 'echo one' },
      { line: 12, text: 'echo two' },
    ]);
    expect(otherShellFences('```bash\nls\n```')).toEqual([1]);

    expect(otherShellFences(readme)).toEqual([]);
    // The hands-on sections alone have a dozen; a change in how blocks are found must not make them vanish.
    expect(shellBlocks(readme).length).toBeGreaterThanOrEqual(10);
  });

  it('stop at the first failing command and name its block: an HTTP error status, an undefined variable', async () => {
    const run = (blocks: { line: number; text: string }[]) => runShellBlocks(blocks, { env: service.env, cwd: ROOT, timeoutMs: 30000 });

    const httpError = await run([
      { line: 10, text: 'curl -s "$BASE/v1/rates/usd-cny"' },
      { line: 20, text: 'curl -s "$BASE/v1/no-such-thing"\necho after the error' },
      { line: 30, text: 'echo the next block' },
    ]);
    expect(httpError.ok).toBe(false);
    if (httpError.ok) return;
    expect(httpError.block.line).toBe(20);
    expect(httpError.output).toContain('"code":"not_found"');
    expect(httpError.output).not.toContain('after the error');
    expect(httpError.output).not.toContain('the next block');

    const unset = await run([
      { line: 10, text: 'TRADE=$(echo 1)' },
      { line: 20, text: 'echo "$TRADE $DISPUTE"' },
    ]);
    expect(unset.ok).toBe(false);
    if (unset.ok) return;
    expect(unset.block.line).toBe(20);
    expect(unset.output).toContain('DISPUTE: unbound variable');
  });

  it('run as written, in order, in one shell, against a fresh service', async () => {
    const result = await runShellBlocks(shellBlocks(readme), { env: service.env, cwd: ROOT, timeoutMs: 270000 });
    if (!result.ok) throw new Error(`${describeFailure(result, 'README.md')}\n--- the service's log ---\n${service.log().slice(-3000)}`);
    // The walk-through reaches each ending it shows.
    for (const ending of ['is completed', 'is settled_split']) expect(result.output).toContain(ending);
  }, 300000);
});
