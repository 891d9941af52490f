import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { jobsConfig } from '../config';
import { Notifications, NotificationSubscription } from '../database/notifications';
import { QueueRegistry } from '../queues/queue-registry';
import { WORKERS_ENABLED } from '../runtime';
import { byQueue, outboxJob, withTimeout } from './outbox-jobs';
import { observePublished } from './outbox-metrics';
import { OUTBOX_CHANNEL, OutboxRepository, OutboxRow } from './outbox.repository';

const ENQUEUE_TIMEOUT_MS = 5000;
/** How long a claimed row is this relay's: well past a batch's enqueue time, short enough to recover from a crash. */
const CLAIM_LEASE_SECONDS = 60;

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
  private subscription?: NotificationSubscription;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly queues: QueueRegistry,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
    private readonly notifications: Notifications,
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
    // The poll publishes everything anyway; a notification only makes it sooner. Listening again, the relay looks at
    // once, for what was notified while the connection was down.
    this.subscription = await this.notifications.subscribe({
      channels: [OUTBOX_CHANNEL],
      notified: () => this.wake?.(),
      listening: () => this.wake?.(),
    });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    await this.subscription?.unsubscribe();
    this.subscription = undefined;
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
   * lease on the rows) and, once BullMQ has the jobs, the mark. An idle wake costs one statement. Each queue's
   * rows go to Redis in one `addBulk`; a queue whose bulk fails is tried row by row, to find the row at fault.
   */
  async publishBatch(): Promise<number> {
    const rows = await this.outbox.claimBatch(this.config.outboxBatchSize, CLAIM_LEASE_SECONDS);
    const published: string[] = [];
    const failures = { consecutive: 0 };
    const groups = [...byQueue(rows).values()];
    for (const [index, group] of groups.entries()) {
      if (this.queues.has(group[0].queue)) {
        try {
          await withTimeout(this.queues.get(group[0].queue).addBulk(group.map(outboxJob)), ENQUEUE_TIMEOUT_MS, 'enqueue');
          published.push(...group.map((row) => row.id));
          observePublished(group, 'relay');
          failures.consecutive = 0;
          continue;
        } catch {
          // Row by row below: BullMQ ignores the job ids the bulk added already.
        }
      }
      const stoppedAt = await this.publishOneByOne(group, published, failures);
      if (stoppedAt !== undefined) {
        // The rest of the batch is released at once rather than waiting out its lease.
        await this.outbox.release([...group.slice(stoppedAt), ...groups.slice(index + 1).flat()].map((row) => row.id));
        break;
      }
    }
    await this.outbox.markPublished(published);
    return published.length;
  }

  /** Adds `rows` one at a time; returns the index it stopped at when Redis looks unwell (two failures in a row). */
  private async publishOneByOne(rows: OutboxRow[], published: string[], failures: { consecutive: number }): Promise<number | undefined> {
    for (const [index, row] of rows.entries()) {
      try {
        const job = outboxJob(row);
        await withTimeout(this.queues.get(row.queue).add(job.name, job.data, job.opts), ENQUEUE_TIMEOUT_MS, 'enqueue');
        published.push(row.id);
        observePublished([row], 'relay');
        failures.consecutive = 0;
      } catch (error) {
        // A bad row must not hold back the others; two failures in a row mean Redis is unwell: try later.
        await this.outbox.recordFailure(row.id, (error as Error).message);
        failures.consecutive += 1;
        if (failures.consecutive >= 2) return index + 1;
      }
    }
    return undefined;
  }
}
