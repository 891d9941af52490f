import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { BankFundingService } from './bank-funding.service';
import { FundingService } from './funding.service';
import { NotYet, pollBackoffStrategy } from './provider-steps';
import { Inject } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { tradesConfig } from '../../config';
import { TradesRepository } from '../../trades/trades.repository';
import { ProviderWorkSweeper } from './provider-work.sweeper';
import { SettlementService } from './settlement.service';

// The funding checks back off by the `poll` strategy, which BullMQ does not have built in.
@Processor(QUEUES.funding, { settings: { backoffStrategy: pollBackoffStrategy } })
export class FundingProcessor extends WorkerHost {
  constructor(
    private readonly funding: FundingService,
    private readonly bankFunding: BankFundingService,
  ) {
    super();
  }

  async process(job: Job<{ tradeId?: string; transferId?: string }>): Promise<{ outcome: string }> {
    if (job.name === JOBS.funding.checkFunding) return { outcome: await this.funding.check(job.data.tradeId!) };
    if (job.name === JOBS.funding.receiveBankTransfer) return { outcome: await this.bankFunding.receiveById(job.data.transferId!) };
    throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.funding}`);
  }
}

/**
 * Settles a decided trade. A provider failure is retried on the job's backoff; once it has failed
 * `SETTLEMENT_FLAG_AFTER_ATTEMPTS` times the trade is flagged `settlementFailing` for operators (and still
 * retried); a settlement that goes through clears the flag. Waiting for the provider ("not yet") is not a failure.
 */
@Processor(QUEUES.settlement)
export class SettlementProcessor extends WorkerHost {
  constructor(
    private readonly settlement: SettlementService,
    private readonly bankFunding: BankFundingService,
    private readonly sweeper: ProviderWorkSweeper,
    private readonly trades: TradesRepository,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {
    super();
  }

  async process(job: Job<{ tradeId: string; transferId?: string }>): Promise<{ outcome: string }> {
    if (job.name === JOBS.settlement.captureIntoEscrow) return { outcome: await this.settlement.captureIntoEscrow(job.data.tradeId) };
    if (job.name === JOBS.settlement.sweepProviderWork) return { outcome: `requeued ${(await this.sweeper.sweep()).requeued}` };
    if (job.name === JOBS.settlement.returnBankMoney) return { outcome: await this.bankFunding.returnSuspense(job.data.transferId!) };
    if (job.name !== JOBS.settlement.settleTrade) throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.settlement}`);
    try {
      return { outcome: await this.settlement.settle(job.data.tradeId) };
    } catch (error) {
      if (!(error instanceof NotYet) && job.attemptsMade + 1 >= this.config.settlementFlagAfterAttempts) {
        await this.trades.flagSettlementFailing(job.data.tradeId);
      }
      throw error;
    }
  }
}
