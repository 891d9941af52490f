import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { paypalConfig, tradesConfig } from '../../config';
import { OutboxMessage, OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { QueueRegistry } from '../../queues/queue-registry';
import { checkFundingJobId, honorCaptureDelayMs } from './provider-steps';

const SWEEP_LIMIT = 500;
// A job in one of these states will run by itself; anything else (done, failed, gone) means the work needs a new one.
const PENDING_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'];

/**
 * Redis is a cache of work, never its record (SPEC.md): every trade waiting on a provider job is visible
 * in PostgreSQL, and this sweep gives each one whose job Redis no longer holds (or that gave up) a new
 * job: funding checks, settlements, honour-period captures, bank returns. The jobs are idempotent, so a
 * spare one changes nothing.
 */
@Injectable()
export class ProviderWorkSweeper implements OnApplicationBootstrap {
  private readonly logger = new Logger(ProviderWorkSweeper.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queues: QueueRegistry,
    private readonly outbox: OutboxService,
    @InjectQueue(QUEUES.settlement) private readonly settlementQueue: Queue,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
    @Inject(paypalConfig.KEY) private readonly paypal: ConfigType<typeof paypalConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.settlementQueue.upsertJobScheduler(
      JOBS.settlement.sweepProviderWork,
      { every: this.config.providerWorkSweepEveryMs },
      { name: JOBS.settlement.sweepProviderWork },
    );
  }

  async sweep(): Promise<{ requeued: number }> {
    // Only work older than one sweep period: a job just committed may still be on its way from the outbox.
    const before = new Date(Date.now() - this.config.providerWorkSweepEveryMs);
    const retry = { attempts: 1000, backoffMs: this.config.providerPollEveryMs, backoffType: 'fixed' as const };
    const lost: OutboxMessage[] = [];
    const consider = async (message: OutboxMessage) => {
      const job = await this.queues.get(message.queue).getJob(message.jobId);
      if (job && PENDING_STATES.includes(await job.getState())) return;
      lost.push({ ...message, jobId: `${message.jobId}-sweep-${Date.now()}` });
    };

    const settling: { id: string; state: string }[] = await this.dataSource.query(
      `SELECT id, state FROM trades WHERE state IN ('releasing', 'refunding', 'splitting') AND updated_at < $1 ORDER BY updated_at LIMIT $2`,
      [before, SWEEP_LIMIT],
    );
    for (const trade of settling) {
      await consider({
        queue: QUEUES.settlement,
        jobName: JOBS.settlement.settleTrade,
        jobId: `settle-${trade.id}-${trade.state}`,
        payload: { tradeId: trade.id },
        retry,
      });
    }

    const awaiting: { id: string }[] = await this.dataSource.query(
      `SELECT t.id FROM trades t JOIN trade_fundings f ON f.trade_id = t.id
        WHERE t.state = 'awaiting_funding' AND f.created_at < $1 ORDER BY t.funding_by LIMIT $2`,
      [before, SWEEP_LIMIT],
    );
    for (const trade of awaiting) {
      await consider({
        queue: QUEUES.funding,
        jobName: JOBS.funding.checkFunding,
        jobId: checkFundingJobId(trade.id, 'poll'),
        payload: { tradeId: trade.id },
        retry,
      });
    }

    // Held PayPal authorizations: captured at four fifths of the honour period, or at once for a dispute.
    const held: { id: string; state: string; funded_at: Date }[] = await this.dataSource.query(
      `SELECT t.id, t.state, t.funded_at FROM trades t JOIN trade_fundings f ON f.trade_id = t.id
        WHERE t.state IN ('funded', 'payout_sent', 'disputed') AND f.authorization_id IS NOT NULL AND f.capture_id IS NULL
          AND t.funded_at < $1 ORDER BY t.funded_at LIMIT $2`,
      [before, SWEEP_LIMIT],
    );
    for (const trade of held) {
      const dueAt = trade.funded_at.getTime() + honorCaptureDelayMs(this.paypal.honorPeriodMs);
      await consider({
        queue: QUEUES.settlement,
        jobName: JOBS.settlement.captureIntoEscrow,
        jobId: trade.state === 'disputed' ? `dispute-capture-${trade.id}` : `honor-capture-${trade.id}`,
        payload: { tradeId: trade.id },
        delayMs: trade.state === 'disputed' ? 0 : Math.max(0, dueAt - Date.now()),
        retry,
      });
    }

    const unreturned: { transfer_id: string }[] = await this.dataSource.query(
      `SELECT transfer_id FROM bank_incoming_transfers WHERE suspense_usd > 0 AND returned_at IS NULL AND created_at < $1
        ORDER BY created_at LIMIT $2`,
      [before, SWEEP_LIMIT],
    );
    for (const row of unreturned) {
      await consider({
        queue: QUEUES.settlement,
        jobName: JOBS.settlement.returnBankMoney,
        jobId: `bank-return-${row.transfer_id}`,
        payload: { transferId: row.transfer_id },
        retry,
      });
    }

    if (lost.length > 0) {
      await this.dataSource.transaction(async (manager) => {
        for (const message of lost) await this.outbox.write(manager, message);
      });
      this.logger.warn({ requeued: lost.length }, 'Provider work whose job was lost or had given up was queued again');
    }
    return { requeued: lost.length };
  }
}
