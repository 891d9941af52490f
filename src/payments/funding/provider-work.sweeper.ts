import { InjectQueue } from '@nestjs/bullmq';
import { PeriodicJobs } from '../../queues/periodic-jobs';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { paypalConfig, tradesConfig } from '../../config';
import { OutboxMessage, OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { QueueRegistry } from '../../queues/queue-registry';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import {
  bankReturnJobId,
  checkFundingJobId,
  disputeCaptureJobId,
  honorCaptureJobId,
  settleJobId,
  sweepCopyJobId,
  verifyPayoutJobId,
} from '../../queues/job-ids';
import { fundingPoll, keepTrying } from '../../queues/retry-policies';
import { honorCaptureDelayMs, honorCaptureMessage } from './provider-steps';
import { NEARING_START, sweepHorizonMs } from '../../queues/sweep-horizon';
import { watchMessage } from '../settlement/settlement-run';
import { BankFundingService } from './bank-funding.service';
import { ProviderWorkRepository, WorkPage } from './provider-work.repository';
import { safeErrorForLog } from '../../common/errors';
import { Transactions } from '../../database/transactions';

const PAGE = 500;
const MAX_PAGES = 40;
// A job in one of these states will run by itself; anything else (done, failed, gone) means the work needs a new one.
const PENDING_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'];

interface Work {
  /** The key the sweep pages by. */
  key: string;
  message: OutboxMessage;
}

/**
 * Redis is a cache of work, never its record (SPEC.md): every trade waiting on a provider job is visible in
 * PostgreSQL, and this sweep gives each one whose job Redis no longer holds (or that gave up) one more job:
 * funding checks, settlements (and flagged ended trades whose money came back), captures due, bank returns, and
 * funding checks a webhook queued that never started. Each item has one sweep job id (`<job id>-sweep`), so an item
 * never has more than its own job and one spare; the jobs are idempotent, so a spare changes nothing. It also queues
 * the honour-period captures nearing their time, which funding leaves to it when they are days away.
 */
@Injectable()
export class ProviderWorkSweeper implements OnApplicationBootstrap {
  private readonly logger = new Logger(ProviderWorkSweeper.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly work: ProviderWorkRepository,
    private readonly queues: QueueRegistry,
    private readonly outbox: OutboxService,
    @InjectQueue(QUEUES.settlement) private readonly settlementQueue: Queue,
    private readonly periodic: PeriodicJobs,
    private readonly bankFunding: BankFundingService,
    private readonly tradeFlags: TradeSettlementRepository,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
    @Inject(paypalConfig.KEY) private readonly paypal: ConfigType<typeof paypalConfig>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.periodic.keep(this.settlementQueue, JOBS.settlement.sweepProviderWork, this.config.providerWorkSweepEveryMs);
  }

  async sweep(): Promise<{ requeued: number }> {
    await this.queueNearingHonorCaptures();
    // Only work older than one sweep period: a job just committed may still be on its way from the outbox.
    const before = new Date(Date.now() - this.config.providerWorkSweepEveryMs);
    const retry = keepTrying(this.config.providerPollEveryMs);
    let requeued = 0;

    requeued += await this.each(this.work.settling, before, (row: { key: string; state: string }) => ({
      queue: QUEUES.settlement,
      jobName: JOBS.settlement.settleTrade,
      jobId: settleJobId(row.key, row.state),
      payload: { tradeId: row.key },
      retry,
    }));

    requeued += await this.each(this.work.awaitingFunding, before, (row: { key: string; funding_by: Date | null }) => ({
      queue: QUEUES.funding,
      jobName: JOBS.funding.checkFunding,
      jobId: checkFundingJobId(row.key, 'poll'),
      payload: { tradeId: row.key },
      // Until what is left of the funding window (an outage may have extended it).
      retry: fundingPoll(row.funding_by ? row.funding_by.getTime() - Date.now() : 0, this.config),
    }));

    // A check a webhook queued that never started (Redis lost it): the trade's later webhooks wait on it.
    requeued += await this.each(this.work.pendingChecks, before, (row: { key: string; job_id: string }) => ({
      queue: QUEUES.funding,
      jobName: JOBS.funding.checkFunding,
      jobId: row.job_id,
      payload: { tradeId: row.key },
      retry: fundingPoll(this.config.fundingWindowPaypalMs, this.config),
    }));

    // Outcomes watched after the end (an unclaimed payout, a settled bank return) whose polling job was lost.
    requeued += await this.each(
      this.work.watchedOutcomes,
      before,
      (row: { key: string; trade_id: string; step: 'watch_payout' | 'watch_bank_return'; attempt: number }) =>
        watchMessage(row.trade_id, row.step, row.attempt, this.config),
    );

    // Reported WeChat transfers waiting to be verified (the job gives up at the verify deadline by opening a dispute).
    requeued += await this.each(this.work.reportedPayouts, before, (row: { key: string }) => ({
      queue: QUEUES.verification,
      jobName: JOBS.verification.verifyPayout,
      jobId: verifyPayoutJobId(row.key),
      payload: { tradeId: row.key },
      retry,
    }));

    // Held PayPal authorizations whose capture is due (at four fifths of the honour period, or at once for a
    // dispute) and whose job was lost; the honour captures still ahead are queued as they near, above.
    requeued += await this.each(
      this.work.heldAuthorizationsDue(honorCaptureDelayMs(this.paypal.honorPeriodMs)),
      before,
      (row: { key: string; state: string }) => ({
        queue: QUEUES.settlement,
        jobName: JOBS.settlement.captureIntoEscrow,
        jobId: row.state === 'disputed' ? disputeCaptureJobId(row.key) : honorCaptureJobId(row.key),
        payload: { tradeId: row.key },
        delayMs: 0,
        retry,
      }),
    );

    // Suspense owed back; what the bank refused stays for operators (the bank_suspense_stuck gauge).
    requeued += await this.each(this.work.suspenseOwed, before, (row: { key: string }) => ({
      queue: QUEUES.settlement,
      jobName: JOBS.settlement.returnBankMoney,
      jobId: bankReturnJobId(row.key),
      payload: { transferId: row.key },
      retry,
    }));

    if (requeued > 0) this.logger.warn({ requeued }, 'Provider work whose job was lost or had given up was queued again');
    try {
      const taken = await this.bankFunding.takeUnseenSettled();
      if (taken > 0) this.logger.warn({ taken }, 'Bank money whose callback was lost was taken into the books');
    } catch (error) {
      // The bank unreachable: read again from the same place next sweep; the rest of the sweep goes on.
      this.logger.warn({ error: safeErrorForLog(error) }, 'The bank’s settled transfers could not be read');
    }
    const flagged = await this.flagOverdueSteps();
    if (flagged > 0) this.logger.warn({ flagged }, 'Trades whose settlement step waited past its bound were flagged for operators');
    return { requeued };
  }

  /**
   * Queues the honour-period captures falling due within the sweep's horizon (`queues/sweep-horizon.ts`), under
   * their own job id: funding queues one only when it is that near, so a trade that ends within days (nearly all)
   * never holds a capture job in Redis. Each is offered by two or three sweeps before its time, and written to the
   * outbox as any job; a second offer adds nothing (BullMQ drops an id it holds). A failure leaves them to the next sweep.
   */
  private async queueNearingHonorCaptures(): Promise<void> {
    const captureAfterMs = honorCaptureDelayMs(this.paypal.honorPeriodMs);
    const horizonMs = sweepHorizonMs(this.config.providerWorkSweepEveryMs);
    try {
      let after = NEARING_START;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const nearing = await this.work.nearingHonorCaptures(captureAfterMs, horizonMs, after, PAGE);
        if (nearing.length === 0) break;
        await this.transactions.run(async (manager) => {
          for (const { tradeId, dueInMs } of nearing) {
            await this.outbox.write(manager, honorCaptureMessage(tradeId, dueInMs, this.config.providerPollEveryMs));
          }
        });
        if (nearing.length < PAGE) break;
        after = nearing[nearing.length - 1].next;
      }
    } catch (error) {
      this.logger.warn(
        { error: safeErrorForLog(error) },
        'Nearing honour-period captures could not be queued; the next sweep offers them again',
      );
    }
  }

  /**
   * Flags every trade with a settlement step (or a watch) unfinished past its bound, whether or not a job is still
   * polling it: a provider that never answers, or a job lost, still reaches an operator.
   */
  private async flagOverdueSteps(): Promise<number> {
    return this.transactions.run(async (manager) => {
      const flagged = await this.work.flagOverdueSteps(manager, PAGE);
      await this.tradeFlags.settlementFailing(manager, flagged);
      return flagged.length;
    });
  }

  /** Pages through the rows of one kind of work, queuing a job for each whose job is not pending. */
  private async each<Row extends { key: string }>(
    read: WorkPage<Row>,
    before: Date,
    toMessage: (row: Row) => OutboxMessage,
  ): Promise<number> {
    let requeued = 0;
    let after = '';
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const rows = await read(before, after, PAGE);
      const lost: Work[] = [];
      for (const row of rows) {
        const work = await this.lost(row.key, toMessage(row));
        if (work) lost.push(work);
      }
      if (lost.length > 0) {
        await this.transactions.run(async (manager) => {
          for (const work of lost) await this.outbox.write(manager, work.message);
        });
        requeued += lost.length;
      }
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1].key;
    }
    return requeued;
  }

  /** The sweep's job for this work, unless its own job or an earlier sweep job is still pending. */
  private async lost(key: string, message: OutboxMessage): Promise<Work | null> {
    const queue = this.queues.get(message.queue);
    const own = await queue.getJob(message.jobId);
    if (own && PENDING_STATES.includes(await own.getState())) return null;
    const sweepJobId = sweepCopyJobId(message.jobId);
    const spare = await queue.getJob(sweepJobId);
    if (spare) {
      if (PENDING_STATES.includes(await spare.getState())) return null;
      // Finished (it did nothing, or gave up): removed, so the same id can run again.
      await spare.remove();
    }
    return { key, message: { ...message, jobId: sweepJobId } };
  }
}
