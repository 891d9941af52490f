import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { safeErrorForLog } from '../common/errors';
import { jobsConfig, tradesConfig } from '../config';
import { OutboxPublisher, WorkRunFirst } from '../outbox/outbox.publisher';
import { JOBS, QUEUES } from '../queues/queue-names';
import { FundingService } from './funding/funding.service';
import { NotYet } from './funding/provider-steps';
import { PayoutVerificationService } from './verification/payout-verification.service';

/**
 * A reported payout's verification and a funding check run by the process that committed their outbox row, right
 * after the commit (`OutboxPublisher.runFirst`): the API process that took the report or the provider's webhook
 * asks WeChat or PayPal itself, instead of handing the work to a worker through Redis (an add, a fetch and a
 * completion a job). Both are idempotent (the trade's row lock and state decide once), as their jobs are, and
 * those jobs stay the fallback: queued when the answer is "not yet" or the provider failed (due after the poll
 * interval, as the job's own retry would be), when the work outlasts its budget, or by the relay when this process
 * died first. A delayed row (a funding poll, which is removed from its queue once the trade funds) is the job's
 * from the start.
 */
@Injectable()
export class ProviderChecksAfterCommit implements OnModuleInit {
  private readonly logger = new Logger(ProviderChecksAfterCommit.name);

  constructor(
    private readonly publisher: OutboxPublisher,
    private readonly verification: PayoutVerificationService,
    private readonly funding: FundingService,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
    @Inject(tradesConfig.KEY) private readonly trades: ConfigType<typeof tradesConfig>,
  ) {}

  onModuleInit(): void {
    if (!this.jobs.providerChecksAfterCommit) return;
    this.publisher.runFirst(
      QUEUES.verification,
      JOBS.verification.verifyPayout,
      ({ payload }) => this.run(JOBS.verification.verifyPayout, () => this.verification.verify(String(payload.tradeId))),
      { limit: this.jobs.verificationWorkerConcurrency, atOnceOnly: true },
    );
    this.publisher.runFirst(
      QUEUES.funding,
      JOBS.funding.checkFunding,
      ({ payload }) => this.run(JOBS.funding.checkFunding, () => this.funding.check(String(payload.tradeId))),
      { limit: this.jobs.fundingWorkerConcurrency, atOnceOnly: true },
    );
  }

  /** Done once the work returned; otherwise its job, due when the job's first retry would have been. */
  private async run(jobName: string, work: () => Promise<unknown>): Promise<WorkRunFirst> {
    try {
      await work();
      return { done: true };
    } catch (error) {
      if (!(error instanceof NotYet)) {
        this.logger.warn({ error: safeErrorForLog(error), jobName }, 'A provider check after commit failed; its job tries again');
      }
      return { done: false, delayMs: this.trades.providerPollEveryMs };
    }
  }
}
