import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { HandlesJobs } from '../../queues/job-handlers';
import { BankFundingService } from '../funding/bank-funding.service';
import { pollBackoffStrategy } from '../../queues/retry-policies';
import { NotYet } from '../funding/provider-steps';
import { ProviderWorkSweeper } from '../funding/provider-work.sweeper';
import { SettlementAttempts } from './settlement-attempts';
import { SettlementService } from './settlement.service';

/** A settlement job's data: `failedBefore` counts a failed attempt made right after its row's commit. */
interface SettleJobData {
  tradeId: string;
  transferId?: string;
  watch?: boolean;
  failedBefore?: number;
}

/**
 * Settles a decided trade, and watches what may change after the end. A provider failure is retried on the job's
 * backoff; once it has failed `SETTLEMENT_FLAG_AFTER_ATTEMPTS` times the trade is flagged `settlementFailing` for
 * operators (and still retried, `SettlementAttempts`); a settlement that goes through clears the flag. A watch job
 * asks again, backing off, until its outcome is final. Most `settle-trade` rows never become a job: the process that
 * committed them runs them (`SettlementAfterCommit`), and their job is the fallback.
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
    private readonly attempts: SettlementAttempts,
    private readonly bankFunding: BankFundingService,
    private readonly sweeper: ProviderWorkSweeper,
  ) {
    super();
  }

  async process(job: Job<SettleJobData>): Promise<{ outcome: string }> {
    if (job.name === JOBS.settlement.captureIntoEscrow) return { outcome: await this.settlement.captureIntoEscrow(job.data.tradeId) };
    if (job.name === JOBS.settlement.sweepProviderWork) return { outcome: `requeued ${(await this.sweeper.sweep()).requeued}` };
    if (job.name === JOBS.settlement.returnBankMoney) return { outcome: await this.bankFunding.returnSuspense(job.data.transferId!) };
    if (job.name !== JOBS.settlement.settleTrade) throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.settlement}`);
    // The attempts before this job's: its own, and one made right after its row's commit when that failed.
    const failedBefore = job.attemptsMade + (job.data.failedBefore ?? 0);
    const outcome = await this.attempts.attempt(job.data.tradeId, failedBefore, job.id);
    if (outcome === 'watching' && job.data.watch) throw new NotYet(`trade ${job.data.tradeId}: an outcome after the end is not final`);
    return { outcome };
  }
}
