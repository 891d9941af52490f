import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Job } from 'bullmq';
import { MessageRetentionRepository } from '../chat/message-retention.repository';
import { chatConfig, eventsConfig, tradesConfig } from '../config';
import { EventsRepository } from '../events/events.repository';
import { IdempotencyRepository } from '../idempotency/idempotency.repository';
import { OutboxRepository } from '../outbox/outbox.repository';
import { JOBS, QUEUES } from '../queues/queue-names';
import { HandlesJobs } from '../queues/job-handlers';
import { HandleRetentionRepository } from '../trades/handle-retention.repository';
import { ConsoleSessionsRepository } from '../users/console-sessions.repository';
import { Transactions } from '../database/transactions';

// Bounded batches: a purge never holds a long lock or a long transaction.
const PURGE_BATCH = 5000;
const PURGE_MAX_BATCHES = 20;
const KEEP_PUBLISHED_OUTBOX_HOURS = 72;
// Each erased trade is a row update: smaller batches keep each statement's locks short.
const ERASE_BATCH = 500;

/** Clean-up work. Each job is idempotent: running it twice deletes nothing more than running it once. */
@HandlesJobs('housekeeping', [
  JOBS.housekeeping.purgeIdempotencyKeys,
  JOBS.housekeeping.purgePublishedOutbox,
  JOBS.housekeeping.eraseHandleSnapshots,
  JOBS.housekeeping.eraseMessageTexts,
  JOBS.housekeeping.purgeEvents,
])
@Processor(QUEUES.housekeeping)
export class HousekeepingProcessor extends WorkerHost {
  private readonly logger = new Logger(HousekeepingProcessor.name);

  constructor(
    private readonly idempotency: IdempotencyRepository,
    private readonly outbox: OutboxRepository,
    private readonly consoleSessions: ConsoleSessionsRepository,
    private readonly transactions: Transactions,
    private readonly handles: HandleRetentionRepository,
    @Inject(tradesConfig.KEY) private readonly trades: ConfigType<typeof tradesConfig>,
    private readonly messages: MessageRetentionRepository,
    @Inject(chatConfig.KEY) private readonly chat: ConfigType<typeof chatConfig>,
    private readonly events: EventsRepository,
    @Inject(eventsConfig.KEY) private readonly eventSettings: ConfigType<typeof eventsConfig>,
  ) {
    super();
  }

  async process(job: Job): Promise<{ deleted: number }> {
    switch (job.name) {
      case JOBS.housekeeping.purgeIdempotencyKeys: {
        // Expired console sessions go on the same schedule: they admit nobody, they only take room.
        const keys = await this.repeat(() => this.idempotency.purgeExpired(PURGE_BATCH));
        const sessions = await this.repeat(() => this.consoleSessions.purgeExpired(PURGE_BATCH));
        return { deleted: keys + sessions };
      }
      case JOBS.housekeeping.purgePublishedOutbox:
        return {
          deleted: await this.repeat(() => this.outbox.purgePublished(this.transactions.manager, KEEP_PUBLISHED_OUTBOX_HOURS, PURGE_BATCH)),
        };
      case JOBS.housekeeping.eraseHandleSnapshots:
        return { deleted: await this.repeat(() => this.handles.eraseDue(this.trades.handleRetentionMs, ERASE_BATCH), ERASE_BATCH) };
      case JOBS.housekeeping.eraseMessageTexts:
        return { deleted: await this.repeat(() => this.messages.eraseDue(this.chat.messageRetentionMs, ERASE_BATCH), ERASE_BATCH) };
      case JOBS.housekeeping.purgeEvents:
        // Past the replay window (and its margin), an event serves nobody: streams replay 24 hours at most.
        return { deleted: await this.repeat(() => this.events.purgeOlderThan(this.eventSettings.retentionMs, PURGE_BATCH)) };
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.housekeeping}`);
    }
  }

  private async repeat(batch: () => Promise<number>, size = PURGE_BATCH): Promise<number> {
    let total = 0;
    for (let i = 0; i < PURGE_MAX_BATCHES; i += 1) {
      const deleted = await batch();
      total += deleted;
      if (deleted < size) break;
    }
    if (total > 0) this.logger.log(`Purged ${total} rows`);
    return total;
  }
}
