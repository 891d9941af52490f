import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Client } from 'pg';
import { databaseConfig, jobsConfig } from '../config';
import { QueueRegistry } from '../queues/queue-registry';
import { WORKERS_ENABLED } from '../runtime';
import { OutboxRepository } from './outbox.repository';

const ENQUEUE_TIMEOUT_MS = 5000;
/** How long a claimed row is this relay's: well past a batch's enqueue time, short enough to recover from a crash. */
const CLAIM_LEASE_SECONDS = 60;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`enqueue timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Publishes committed outbox rows to BullMQ. Rows are leased with FOR UPDATE SKIP LOCKED and marked
 * published only after BullMQ accepted the job; a crash in between leaves the row unpublished until its
 * lease runs out, and the next publish is deduplicated by the job id. Safe with many relays at once.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private listener?: Client;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly queues: QueueRegistry,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
    @Inject(databaseConfig.KEY) private readonly database: ConfigType<typeof databaseConfig>,
    @Inject(WORKERS_ENABLED) private readonly enabled: boolean,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.enabled) await this.start();
  }

  /**
   * Before the application shutdown, when the database pool closes: a batch still running then failed with
   * "Connection terminated". The job workers have stopped already; rows committed later wait for the next relay.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    await this.stop();
    this.logger.log('Outbox relay stopped');
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.listen();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
  }

  private async listen(): Promise<void> {
    try {
      const listener = new Client({ connectionString: this.database.url, connectionTimeoutMillis: this.database.connectTimeoutMs });
      listener.on('notification', () => this.wake?.());
      listener.on('error', (error) => this.logger.warn(`Outbox listener lost (${error.message}); polling only`));
      await this.outbox.listenOn(listener);
      this.listener = listener;
    } catch (error) {
      // The poll still publishes everything; LISTEN only makes it sooner.
      this.logger.warn(`Outbox LISTEN unavailable (${(error as Error).message}); polling only`);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let published = 0;
      try {
        published = await this.publishBatch();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.logger.error(`Outbox publish failed (${(error as Error).message}); retrying`);
      }
      if (!this.running) break;
      if (published >= this.config.outboxBatchSize && failures === 0) continue;
      const backoffMs =
        failures === 0 ? this.config.outboxPollIntervalMs : Math.min(30000, this.config.outboxPollIntervalMs * 2 ** Math.min(failures, 6));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /**
   * Publishes one batch; returns how many rows it published. Two statements, no transaction: the claim (a
   * lease on the rows) and, once BullMQ has the jobs, the mark. An idle wake costs one statement.
   */
  async publishBatch(): Promise<number> {
    const rows = await this.outbox.claimBatch(this.config.outboxBatchSize, CLAIM_LEASE_SECONDS);
    const published: string[] = [];
    let consecutiveFailures = 0;
    for (const [index, row] of rows.entries()) {
      try {
        await withTimeout(
          this.queues.get(row.queue).add(row.jobName, row.payload, {
            jobId: row.jobId,
            delay: row.remainingDelayMs,
            ...(row.options.attempts ? { attempts: row.options.attempts } : {}),
            ...(row.options.backoffMs
              ? {
                  backoff: {
                    type: row.options.backoffType ?? 'exponential',
                    delay: row.options.backoffMs,
                    ...(row.options.backoffCapMs ? { capMs: row.options.backoffCapMs } : {}),
                  },
                }
              : {}),
          }),
          ENQUEUE_TIMEOUT_MS,
        );
        published.push(row.id);
        consecutiveFailures = 0;
      } catch (error) {
        // A bad row must not hold back the others; two failures in a row mean Redis is unwell: try later.
        await this.outbox.recordFailure(row.id, (error as Error).message);
        consecutiveFailures += 1;
        if (consecutiveFailures >= 2) {
          // The rest of the batch is released at once rather than waiting out its lease.
          await this.outbox.release(rows.slice(index + 1).map((r) => r.id));
          break;
        }
      }
    }
    await this.outbox.markPublished(published);
    return published.length;
  }
}
