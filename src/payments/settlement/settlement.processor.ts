import { Inject } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { tradesConfig } from '../../config';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { HandlesJobs } from '../../queues/job-handlers';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { BankFundingService } from '../funding/bank-funding.service';
import { pollBackoffStrategy } from '../../queues/retry-policies';
import { NotYet } from '../funding/provider-steps';
import { ProviderWorkSweeper } from '../funding/provider-work.sweeper';
import { SettlementBusy, SettlementClaimLost } from './settlement-run';
import { SettlementService } from './settlement.service';

/**
 * Settles a decided trade, and watches what may change after the end. A provider failure is retried on the job's
 * backoff; once it has failed `SETTLEMENT_FLAG_AFTER_ATTEMPTS` times the trade is flagged `settlementFailing` for
 * operators (and still retried); a settlement that goes through clears the flag. Waiting for the provider
 * ("not yet") and another run holding the trade's claim are not failures: a step that waits past its bound flags
 * the trade by itself. A watch job asks again, backing off, until its outcome is final.
 */
@HandlesJobs('settlement', [
  JOBS.settlement.settleTrade,
  JOBS.settlement.captureIntoEscrow,
  JOBS.settlement.returnBankMoney,
  JOBS.settlement.sweepProviderWork,
])
@Processor(QUEUES.settlement, { settings: { backoffStrategy: pollBackoffStrategy } })
export class SettlementProcessor extends WorkerHost {
  constructor(
    private readonly settlement: SettlementService,
    private readonly bankFunding: BankFundingService,
    private readonly sweeper: ProviderWorkSweeper,
    private readonly trades: TradeSettlementRepository,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {
    super();
  }

  async process(job: Job<{ tradeId: string; transferId?: string; watch?: boolean }>): Promise<{ outcome: string }> {
    if (job.name === JOBS.settlement.captureIntoEscrow) return { outcome: await this.settlement.captureIntoEscrow(job.data.tradeId) };
    if (job.name === JOBS.settlement.sweepProviderWork) return { outcome: `requeued ${(await this.sweeper.sweep()).requeued}` };
    if (job.name === JOBS.settlement.returnBankMoney) return { outcome: await this.bankFunding.returnSuspense(job.data.transferId!) };
    if (job.name !== JOBS.settlement.settleTrade) throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.settlement}`);
    let outcome: string;
    try {
      outcome = await this.settlement.settle(job.data.tradeId);
    } catch (error) {
      const notAFailure = error instanceof NotYet || error instanceof SettlementBusy || error instanceof SettlementClaimLost;
      if (!notAFailure && job.attemptsMade + 1 >= this.config.settlementFlagAfterAttempts) {
        await this.trades.flagSettlementFailing(job.data.tradeId);
      }
      throw error;
    }
    if (outcome === 'watching' && job.data.watch) throw new NotYet(`trade ${job.data.tradeId}: an outcome after the end is not final`);
    return { outcome };
  }
}
