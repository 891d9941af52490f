import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DelayedError, type Job } from 'bullmq';
import { EntityManager } from 'typeorm';
import { safeErrorForLog } from '../common/errors';
import { JOBS, QUEUES } from '../queues/queue-names';
import { fundingDeadlineJobId, lastSearchJobId, payoutDeadlineJobId } from '../queues/job-ids';
import { tradesConfig } from '../config';
import { NEARING_START, sweepHorizonMs } from '../queues/sweep-horizon';
import { NearingDeadlinesRepository } from './nearing-deadlines.repository';
import { QueueRegistry } from '../queues/queue-registry';
import { jobString } from '../queues/job-data';
import { HandlesJobs } from '../queues/job-handlers';
import { DeadlineColumn, TradesRepository } from './trades.repository';
import type { TradeState } from './trade.state-machine';
import { TradeTransitionsService } from './trade-transitions.service';
import { Transactions } from '../database/transactions';

const SWEEP_BATCH = 100;
const SWEEP_MAX_BATCHES = 20;
const NEARING_PAGE = 500;
const NEARING_MAX_PAGES = 20;
// A job in one of these states runs by itself; any other (finished, failed, or data Redis left in no list) never will.
const PENDING_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'];

/**
 * Trade deadlines. The delayed job applies one trade's deadline at its time; the sweeper queues the jobs of the
 * deadlines nearing their time (within the horizon, `queues/sweep-horizon.ts`) and applies every deadline a lost job
 * left behind. Both go through the same conditional transition, so running either twice, or in two worker
 * processes at once, changes nothing twice; a job queued twice is one job (its id).
 */
@HandlesJobs('deadlines', [JOBS.deadlines.fundingDeadline, JOBS.deadlines.payoutDeadline, JOBS.deadlines.sweepDeadlines])
@Processor(QUEUES.deadlines)
export class DeadlinesProcessor extends WorkerHost {
  private readonly logger = new Logger(DeadlinesProcessor.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly trades: TradeTransitionsService,
    private readonly repository: TradesRepository,
    private readonly queues: QueueRegistry,
    private readonly nearing: NearingDeadlinesRepository,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {
    super();
  }

  async process(job: Job, token?: string): Promise<unknown> {
    switch (job.name) {
      case JOBS.deadlines.fundingDeadline: {
        const tradeId = jobString(job, 'tradeId');
        const expired = await this.transactions.run((manager) => this.trades.expireUnfunded(manager, tradeId));
        if (!expired) await this.sleepIfEarly(job, token, tradeId, 'awaiting_funding', 'funding_by');
        return { expired };
      }
      case JOBS.deadlines.payoutDeadline: {
        const tradeId = jobString(job, 'tradeId');
        const searching = await this.transactions.run((manager) => this.trades.payoutWindowReached(manager, tradeId));
        if (!searching) await this.sleepIfEarly(job, token, tradeId, 'funded', 'payout_by');
        return { searching };
      }
      case JOBS.deadlines.sweepDeadlines: {
        // First the jobs of the deadlines nearing: applying the due ones below may take a while.
        const queued = (await this.queueNearingOrWarn('funding')) + (await this.queueNearingOrWarn('payout'));
        const expired = await this.sweep(
          () => this.repository.dueForFunding(SWEEP_BATCH),
          (manager, id) => this.trades.expireUnfunded(manager, id),
        );
        // One pass: a trade stays funded until its last search has run, so a second batch would find the same ones.
        const searching = await this.sweep(
          () => this.repository.dueForPayout(SWEEP_BATCH * SWEEP_MAX_BATCHES),
          (manager, id) => this.trades.payoutWindowReached(manager, id),
          1,
          (id) => this.clearEndedSearch(id),
        );
        if (expired + searching > 0) this.logger.log(`Sweeper applied ${expired} funding and ${searching} payout deadlines`);
        return { queued, expired, searching };
      }
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.deadlines}`);
    }
  }

  /**
   * Queues the delayed job of every deadline that falls due within the horizon, under the id its trade's job has
   * wherever it is queued: BullMQ ignores an id it holds, so a deadline offered by several sweeps, or queued when
   * it was set, still has one job. The delay is what PostgreSQL says is left, a duration; a job that wakes early
   * anyway sleeps again (`sleepIfEarly`). Bounded per run; what a run leaves is queued by the next, or applied.
   */
  private async queueNearingOrWarn(deadline: 'funding' | 'payout'): Promise<number> {
    try {
      return await this.queueNearing(deadline);
    } catch (error) {
      // Redis refusing the jobs must not keep this run from applying the deadlines already due, below.
      this.logger.warn(
        { error: safeErrorForLog(error), deadline },
        'Nearing deadlines could not be queued; the next sweep offers them again',
      );
      return 0;
    }
  }

  private async queueNearing(deadline: 'funding' | 'payout'): Promise<number> {
    const horizonMs = sweepHorizonMs(this.config.deadlineSweepEveryMs);
    const [name, jobId] =
      deadline === 'funding'
        ? [JOBS.deadlines.fundingDeadline, fundingDeadlineJobId]
        : [JOBS.deadlines.payoutDeadline, payoutDeadlineJobId];
    let offered = 0;
    let after = NEARING_START;
    for (let page = 0; page < NEARING_MAX_PAGES; page += 1) {
      const nearing = await this.nearing.page(deadline, horizonMs, after, NEARING_PAGE);
      if (nearing.length === 0) break;
      await this.queues
        .get(QUEUES.deadlines)
        .addBulk(nearing.map(({ tradeId, dueInMs }) => ({ name, data: { tradeId }, opts: { jobId: jobId(tradeId), delay: dueInMs } })));
      offered += nearing.length;
      if (nearing.length < NEARING_PAGE) break;
      after = nearing[nearing.length - 1].next;
    }
    return offered;
  }

  /**
   * A deadline job that woke before its deadline (the worker's or Redis's clock ahead of PostgreSQL's, or an
   * extension committed meanwhile) goes back to sleep until it, rather than leaving the trade to the sweeper.
   * The delay is a duration measured by PostgreSQL, so it holds whatever the worker's clock says.
   */
  private async sleepIfEarly(job: Job, token: string | undefined, tradeId: string, state: TradeState, due: DeadlineColumn): Promise<void> {
    const remainingMs = await this.repository.untilDeadline(tradeId, state, due);
    if (remainingMs === null || remainingMs <= 0 || !token) return;
    await job.moveToDelayed(Date.now() + remainingMs, token);
    throw new DelayedError();
  }

  /**
   * A trade still funded past its payout window whose last search job is no longer pending (it ended, failed
   * after a stall, or a Redis flush left its data in no list) would never be searched again: BullMQ drops a new
   * job under a taken id. That job is removed, so the sweep's copy under the same id runs.
   */
  private async clearEndedSearch(tradeId: string): Promise<void> {
    const payoutBy = (await this.repository.find(tradeId))?.payoutBy;
    if (!payoutBy) return;
    const job = await this.queues.get(QUEUES.verification).getJob(lastSearchJobId(tradeId, payoutBy));
    const state = job ? await job.getState() : undefined;
    if (!job || PENDING_STATES.includes(state!)) return;
    await job.remove();
    // How it was lost: `completed` (it ended with the trade still funded), `failed` (stalled twice), `unknown` (a flush).
    this.logger.warn(
      { tradeId, jobState: state, failedReason: job.failedReason },
      'A last search that had ended with the trade still funded is queued again',
    );
  }

  /**
   * Applies a deadline to every due trade, each in its own transaction: one trade's trouble never rolls
   * back the others, and locks are taken per trade in the same order as everywhere else.
   */
  private async sweep(
    due: () => Promise<string[]>,
    apply: (manager: EntityManager, id: string) => Promise<boolean>,
    maxBatches = SWEEP_MAX_BATCHES,
    prepare?: (id: string) => Promise<void>,
  ): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i += 1) {
      const ids = await due();
      let applied = 0;
      for (const id of ids) {
        try {
          await prepare?.(id);
          if (await this.transactions.run((manager) => apply(manager, id))) applied += 1;
        } catch (error) {
          this.logger.error({ error: safeErrorForLog(error), tradeId: id }, 'Deadline could not be applied; the next sweep retries it');
        }
      }
      total += applied;
      // Stop when nothing more is due, or nothing more could be done (the rest is being retried later).
      if (ids.length < SWEEP_BATCH || applied === 0) break;
    }
    return total;
  }
}
