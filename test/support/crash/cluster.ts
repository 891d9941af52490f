import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { deploymentKeyPattern, queueKeyPrefix } from '../../../src/queues/queue-keys';
import { dropDatabase, freePort, TEST_SPEED } from '../test-app';

const ROOT = join(__dirname, '..', '..', '..');
const BASE_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The provider mocks' queues: they stand for other companies' systems, whose work our Redis does not hold. */
export const PROVIDER_QUEUES = ['sandbox-webhooks', 'sandbox-bank', 'sandbox-wechat'];

/**
 * The child processes run the compiled service (`dist/src/*.js`), as production does. CI builds before the tests;
 * locally `scripts/build-if-changed.js` rebuilds (incrementally) when a source, migration or tsconfig changed.
 */
export function ensureBuilt(): { built: boolean; ms: number } {
  const entry = join(ROOT, 'dist', 'src', 'worker.js');
  const started = Date.now();
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-if-changed.js')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180000,
  });
  // tsc emits despite type errors (a file someone is editing); only a build that produced nothing is fatal.
  if (build.status !== 0) {
    if (!existsSync(entry)) throw new Error(`the build failed: ${build.stderr}`);
    process.stderr.write(`crash test: the build reported errors, running what it emitted\n${build.stderr}\n`);
  }
  return { built: build.stderr.includes('Building'), ms: Date.now() - started };
}

const alive = (child?: ChildProcess): child is ChildProcess => !!child && child.exitCode === null && child.signalCode === null;

interface Member {
  name: string;
  script: 'main.js' | 'worker.js';
  /** An API's own port (the workers have none). */
  port?: number;
  child?: ChildProcess;
  exited?: Promise<void>;
  generation: number;
  logFile: string;
  startedAt: number;
}

/**
 * One deployment as child processes: API processes (no workers, one by default, each on its own port) and `workers`
 * worker processes, sharing one fresh database and one queue prefix. The first API also serves the provider mocks
 * to every process (`SANDBOX_BASE_URL`). Members can be killed with SIGKILL and started again; `stop` kills every
 * one, and a process exit kills any left (the test runner dying must not leave workers running).
 */
export class Cluster {
  readonly databaseUrl: string;
  readonly queuePrefix: string;
  readonly logDir = mkdtempSync(join(tmpdir(), 'yb-crash-'));
  readonly baseUrl: string;
  /** The first API's port: the mocks' and the workers' `PORT`. */
  readonly port: number;
  readonly counts = { kills: 0, restarts: 0, apiKills: 0, flushes: 0, keysFlushed: 0 };
  /** Kills by what the platform's queues had under way at that moment (a kill can land in several). */
  readonly killedDuring: Record<string, number> = { funding: 0, verification: 0, settlement: 0, none: 0 };
  private readonly members: Member[];
  private readonly queues = new Map<string, Queue>();
  private readonly onExit = () => this.members.forEach((m) => alive(m.child) && m.child.kill('SIGKILL'));

  private constructor(
    ports: number[],
    workers: number,
    private readonly extraEnv: Record<string, string>,
  ) {
    this.port = ports[0];
    const suffix = randomBytes(5).toString('hex');
    const url = new URL(BASE_DATABASE_URL);
    url.pathname = `/yb_test_${suffix}`;
    this.databaseUrl = url.toString();
    this.queuePrefix = `{ybt_${suffix}}`;
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    const member = (name: string, script: Member['script'], port?: number): Member => ({
      name,
      script,
      port,
      generation: 0,
      logFile: '',
      startedAt: 0,
    });
    this.members = [
      ...ports.map((port, i) => member(i === 0 ? 'api' : `api-${i + 1}`, 'main.js', port)),
      ...Array.from({ length: workers }, (_, i) => member(`worker-${i + 1}`, 'worker.js')),
    ];
    process.on('exit', this.onExit);
  }

  static async start(workers: number, env: Record<string, string>, options: { apis?: number } = {}): Promise<Cluster> {
    const ports: number[] = [];
    while (ports.length < (options.apis ?? 1)) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const cluster = new Cluster(ports, workers, env);
    try {
      // The first API creates and migrates the database; the other processes start once it is ready.
      await cluster.launch(cluster.members[0]);
      await cluster.waitReady();
      await Promise.all([...cluster.apis().slice(1), ...cluster.workers()].map((m) => cluster.launch(m)));
      await Promise.all(
        cluster
          .apis()
          .slice(1)
          .map((m) => cluster.waitReady(m)),
      );
      return cluster;
    } catch (error) {
      await cluster.stop({ keep: true });
      throw error;
    }
  }

  /** The environment startTestApp gives an in-process service, for this deployment, plus the test's own settings. */
  env(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(this.port),
      DATABASE_URL: this.databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX: this.queuePrefix,
      SANDBOX_BASE_URL: this.baseUrl,
      LOG_LEVEL: 'info',
      ...TEST_SPEED,
      WORKER_METRICS_PORT: '0',
      ...this.extraEnv,
    };
  }

  workers(): Member[] {
    return this.members.filter((m) => m.script === 'worker.js');
  }

  /** The first API process. */
  api(): Member {
    return this.members[0];
  }

  apis(): Member[] {
    return this.members.filter((m) => m.script === 'main.js');
  }

  baseUrlOf(member: Member): string {
    return `http://127.0.0.1:${member.port}`;
  }

  /** Workers up long enough to have started their workers (a boot killed at once tests only the boot). */
  readyWorkers(): Member[] {
    return this.workers().filter((w) => alive(w.child) && this.logOf(w).includes('Yuanbridge worker running'));
  }

  logOf(member: Member): string {
    return existsSync(member.logFile) ? readFileSync(member.logFile, 'utf8') : '';
  }

  private async launch(member: Member): Promise<void> {
    member.generation += 1;
    member.logFile = join(this.logDir, `${member.name}.${member.generation}.log`);
    const output = openSync(join(this.logDir, `${member.name}.${member.generation}.out`), 'a');
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', member.script)], {
      cwd: ROOT,
      env: {
        ...this.env(),
        ...(member.port ? { PORT: String(member.port) } : {}),
        LOG_FILE: member.logFile,
        RUN_WORKERS: member.script === 'main.js' ? 'false' : 'true',
      },
      stdio: ['ignore', output, output],
    });
    closeSync(output);
    member.child = child;
    member.startedAt = Date.now();
    member.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  async waitReady(api = this.api(), timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!alive(api.child))
        throw new Error(`${api.name} exited (${(api.child as ChildProcess | undefined)?.exitCode}); see ${this.logDir}`);
      const ready = await fetch(`${this.baseUrlOf(api)}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${api.name} was not ready within ${timeoutMs} ms; see ${this.logDir}`);
  }

  /** The platform's queues with a job active now (in some worker). */
  async activeWork(): Promise<string[]> {
    const busy: string[] = [];
    for (const name of ['funding', 'verification', 'settlement']) {
      if (!this.queues.has(name))
        this.queues.set(name, new Queue(name, { connection: { url: REDIS_URL }, prefix: queueKeyPrefix(this.queuePrefix, name) }));
      if ((await this.queues.get(name)!.getActiveCount()) > 0) busy.push(name);
    }
    return busy;
  }

  /** SIGKILL: no shutdown hook runs, active jobs and settlement claims are left as they were. */
  async kill(member: Member): Promise<void> {
    if (!alive(member.child)) return;
    if (member.script === 'worker.js') {
      const busy = await this.activeWork().catch(() => []);
      for (const queue of busy.length > 0 ? busy : ['none']) this.killedDuring[queue] += 1;
    }
    member.child.kill('SIGKILL');
    await member.exited;
    if (member.script === 'main.js') this.counts.apiKills += 1;
    else this.counts.kills += 1;
  }

  async restart(member: Member): Promise<void> {
    await this.launch(member);
    this.counts.restarts += 1;
    if (member.script === 'main.js') await this.waitReady(member);
  }

  /** Workers that died by themselves (not by the killer): a crash the test did not cause is reported. */
  unexpectedExits(): string[] {
    return this.members.filter((m) => m.child && m.child.exitCode !== null).map((m) => `${m.name} (exit ${m.child!.exitCode})`);
  }

  /**
   * Deletes this run's Redis keys (never FLUSHDB: other runs share the server): every queue, job, lock, job
   * scheduler and rate-limit counter of the platform. The provider mocks' queues are kept unless `providers`:
   * a real PayPal or bank does not lose a payout or a transfer because our Redis did.
   */
  async flushRedis(providers = false): Promise<number> {
    const redis = new Redis(REDIS_URL);
    let deleted = 0;
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', deploymentKeyPattern(this.queuePrefix), 'COUNT', 1000);
        cursor = next;
        const doomed = providers
          ? keys
          : keys.filter((key) => !PROVIDER_QUEUES.some((q) => key.startsWith(`${queueKeyPrefix(this.queuePrefix, q)}:`)));
        if (doomed.length > 0) deleted += await redis.del(...doomed);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    this.counts.flushes += 1;
    this.counts.keysFlushed += deleted;
    return deleted;
  }

  /** `node dist/src/cli.js …` against this deployment's database. */
  cli(...args: string[]): string {
    return execFileSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), ...args], {
      cwd: ROOT,
      env: { ...this.env(), LOG_FILE: join(this.logDir, 'cli.log') },
      encoding: 'utf8',
    });
  }

  /** Kills every member, then drops the database and every key of the prefix. */
  async stop(options: { keep?: boolean } = {}): Promise<void> {
    for (const member of this.members) {
      if (alive(member.child)) member.child.kill('SIGKILL');
    }
    await Promise.all(this.members.map((m) => m.exited));
    process.removeListener('exit', this.onExit);
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    if (options.keep) return;
    await dropDatabase(this.databaseUrl);
    await this.flushRedis(true);
  }
}
