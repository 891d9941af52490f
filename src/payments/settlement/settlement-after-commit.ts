import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { safeErrorForLog } from '../../common/errors';
import { jobsConfig, tradesConfig } from '../../config';
import { OutboxPublisher, WorkRunFirst } from '../../outbox/outbox.publisher';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { isSettlementFailure, SettlementAttempts } from './settlement-attempts';

/**
 * A `settle-trade` row run by the process that committed it, right after the commit (`OutboxPublisher.runFirst`):
 * the transition that decided the trade (a verification, a confirmation, an operator's resolution) or the payout's
 * callback is followed by its settlement in the same process, without handing it to a worker through Redis (an
 * add, a fetch and a completion, and a retry's move while the payout is pending). The run is the job's
 * (`SettlementAttempts`: the trade's claim makes one run at a time, its journal makes each step once), and the job
 * stays the fallback, due after the poll interval as the job's own retry would be: when the provider is not done yet
 * or failed (a failure counted toward the flag), when another run holds the claim, or when the run outlasts its
 * budget (it still holds the claim); queued at once when this process already runs as many as a worker would, and by
 * the relay when this process died first. A watch after the end, and any delayed row, is its job from the start.
 */
@Injectable()
export class SettlementAfterCommit implements OnModuleInit {
  private readonly logger = new Logger(SettlementAfterCommit.name);

  constructor(
    private readonly publisher: OutboxPublisher,
    private readonly attempts: SettlementAttempts,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
    @Inject(tradesConfig.KEY) private readonly trades: ConfigType<typeof tradesConfig>,
  ) {}

  onModuleInit(): void {
    if (!this.jobs.settlementAfterCommit) return;
    this.publisher.runFirst(QUEUES.settlement, JOBS.settlement.settleTrade, ({ payload }) => this.run(payload), {
      limit: this.jobs.settlementWorkerConcurrency,
      atOnceOnly: true,
      // A run that outlasts its budget still holds the trade's claim: its job, due at once, would only find it busy.
      overrunDelayMs: this.trades.providerPollEveryMs,
    });
  }

  private async run(payload: Record<string, unknown>): Promise<WorkRunFirst> {
    // A watch polls until an outcome after the end is final: its job's backoff does that.
    if (payload.watch) return { done: false };
    const tradeId = String(payload.tradeId);
    try {
      await this.attempts.attempt(tradeId, 0, undefined);
      return { done: true };
    } catch (error) {
      const delayMs = this.trades.providerPollEveryMs;
      if (!isSettlementFailure(error)) return { done: false, delayMs };
      this.logger.warn({ error: safeErrorForLog(error), tradeId }, 'A settlement after commit failed; its job tries again');
      return { done: false, delayMs, payload: { ...payload, failedBefore: 1 } };
    }
  }
}
