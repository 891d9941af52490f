import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from './support/crash/cluster';
import { deleteRedisKeys, dropDatabase, freePort } from './support/test-app';

const ROOT = join(__dirname, '..');

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `node dist/src/main.js` as `npm start` runs it, on its own database and queue prefix, at the default log level. */
function startService(env: Record<string, string>): Started {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Bounded: a start that hangs is killed and fails the test on what it printed.
  const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor(started: Started, pattern: RegExp, timeoutMs = 120000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(started.stdout())) {
    if (started.child.exitCode !== null) throw new Error(`the service exited (${started.child.exitCode}): ${started.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${started.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const messages = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; context?: string });

describe('what a start prints', () => {
  const suffix = randomBytes(4).toString('hex');
  const databaseUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  databaseUrl.pathname = `/yb_out_${suffix}`;
  const queuePrefix = `{ybo_${suffix}}`;
  let port: number;
  let env: Record<string, string>;
  let first: Started | undefined;

  beforeAll(async () => {
    ensureBuilt();
    port = await freePort();
    env = {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: queuePrefix,
      HOST: '127.0.0.1',
      PORT: String(port),
      WECHATPAY_MERCHANT_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'yb-out-')), 'dev-key.pem'),
    };
  }, 240000);

  afterAll(async () => {
    if (first && first.child.exitCode === null) {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    await dropDatabase(databaseUrl.toString());
    await deleteRedisKeys(queuePrefix);
  }, 60000);

  it('says in one line each what it did to the database, which workers run and where it listens; no route tables', async () => {
    first = startService(env);
    await waitFor(first, /Yuanbridge API listening/);
    const lines = messages(first.stdout());
    const start = lines.filter((line) => line.context === 'Start').map((line) => line.msg);
    expect(start).toEqual([
      expect.stringMatching(new RegExp(`^Database yb_out_${suffix} created and migrated \\(\\d+ migrations\\)$`)),
      expect.stringMatching(/^Workers: \d+ queues, \d+ jobs at once each, and the outbox relay \(.*\bsettlement\b.*\)$/),
      `Yuanbridge API listening on http://127.0.0.1:${port} (API docs http://127.0.0.1:${port}/docs)`,
    ]);
    // Nest's module and route lines are debug: not shown at the default level.
    const framework = ['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication'];
    expect(lines.filter((line) => framework.includes(line.context ?? ''))).toEqual([]);
    expect(first.stdout()).not.toContain('Mapped {');
    expect(first.stderr()).toBe('');
  });

  it('on a port in use, says so in one line naming PORT and exits 1, with no stack and no "successfully started"', async () => {
    expect(first?.child.exitCode).toBeNull(); // the first service still holds the port
    const second = startService(env);
    const code = await second.exited;
    expect(code).toBe(1);
    expect(second.stderr()).toBe(
      `Yuanbridge cannot start. Port ${port} is in use on 127.0.0.1: set PORT=<a free port> (e.g. PORT=${port + 1}), or stop what is using it.\n`,
    );
    expect(second.stdout()).not.toMatch(/successfully started|listening|\n\s+at /);
    // The database line came first: the second start found nothing to migrate.
    expect(messages(second.stdout()).map((line) => line.msg)).toContain(`Database yb_out_${suffix} up to date`);
  });
});
