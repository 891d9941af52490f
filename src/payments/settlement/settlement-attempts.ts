import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { tradesConfig } from '../../config';
import { honorCaptureJobId, settleJobId } from '../../queues/job-ids';
import { QueueRegistry } from '../../queues/queue-registry';
import { QUEUES } from '../../queues/queue-names';
import { removeSpentJobs } from '../../queues/spent-jobs';
import { SETTLED_FROM, TradeState } from '../../trades/trade.state-machine';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { NotYet } from '../funding/provider-steps';
import { SettlementBusy, SettlementClaimLost } from './settlement-run';
import { SettlementService } from './settlement.service';

/**
 * Waiting for the provider ("not yet") and another run holding the trade's claim are not failures: only a failure
 * counts toward flagging the trade (a step that waits past its bound flags it by itself).
 */
export function isSettlementFailure(error: unknown): boolean {
  return !(error instanceof NotYet || error instanceof SettlementBusy || error instanceof SettlementClaimLost);
}

/**
 * One attempt at settling a trade, made by its `settle-trade` job or by the process that committed the job's outbox
 * row (`SettlementAfterCommit`): both count the attempts that failed before, so the trade is flagged
 * `settlementFailing` for operators at the same attempt (`SETTLEMENT_FLAG_AFTER_ATTEMPTS`) whichever made them (but
 * for a run after commit that outlasted its budget and then failed: its job counts only its own). An attempt that
 * ends the trade removes the jobs still waiting for it, which would only run to find it ended.
 */
@Injectable()
export class SettlementAttempts {
  private readonly logger = new Logger(SettlementAttempts.name);

  constructor(
    private readonly settlement: SettlementService,
    private readonly trades: TradeSettlementRepository,
    private readonly queues: QueueRegistry,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /** The run's outcome; throws as the run does, after flagging the trade when this failure reaches the bound. */
  async attempt(tradeId: string, failedBefore: number, ownJobId: string | undefined): Promise<string> {
    let outcome: string;
    try {
      outcome = await this.settlement.settle(tradeId);
    } catch (error) {
      if (isSettlementFailure(error) && failedBefore + 1 >= this.config.settlementFlagAfterAttempts) {
        await this.trades.flagSettlementFailing(tradeId);
      }
      throw error;
    }
    // An outcome that is a settled end names the state it left: that state's `settle-trade` job is spent.
    const settledFrom = SETTLED_FROM[outcome as TradeState];
    if (settledFrom) await this.removeSpentJobs(tradeId, settledFrom, ownJobId);
    return outcome;
  }

  /**
   * This run ended the trade (its end committed): the state's own job, retried at the poll interval while a
   * provider was not done (when a webhook's run got there first), and the honour-period capture would only run
   * to find it ended. Removed; one running now (locked) is left and finds nothing. Only an ended trade's jobs
   * go, so a poll is never lost while it is the one thing that can finish the trade (a webhook dropped), and what
   * may still change after the end has its own watch job. A removal that fails leaves a job that finds nothing.
   */
  private async removeSpentJobs(tradeId: string, from: TradeState, ownJobId: string | undefined): Promise<void> {
    const spent = [settleJobId(tradeId, from), honorCaptureJobId(tradeId)].filter((id) => id !== ownJobId);
    await removeSpentJobs(
      this.queues.get(QUEUES.settlement),
      spent,
      this.logger,
      { tradeId },
      'The ended trade’s waiting jobs were left to find nothing',
    );
  }
}
