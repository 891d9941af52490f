import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Job } from 'bullmq';
import { signPayload } from '../../common/crypto/hmac-signature';
import { bankConfig } from '../../config';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { HandlesJobs } from '../../queues/job-handlers';
import { BankMockService } from './bank-mock.service';
import { Transactions } from '../../database/transactions';

/**
 * The bank mock's background work: settling transfers when their delay has passed, and delivering its
 * callbacks. Every delivery attempt is signed with its own time, so honest retries are never stale; a
 * non-2xx answer fails the attempt and BullMQ retries it with backoff.
 */
@HandlesJobs('sandboxBank', [JOBS.sandboxBank.settleTransfer, JOBS.sandboxBank.bounceReturn, JOBS.sandboxBank.deliverWebhook])
@Processor(QUEUES.sandboxBank)
export class BankMockProcessor extends WorkerHost {
  constructor(
    private readonly bank: BankMockService,
    private readonly transactions: Transactions,
    @Inject(bankConfig.KEY) private readonly config: ConfigType<typeof bankConfig>,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case JOBS.sandboxBank.settleTransfer: {
        const { id } = job.data as { id: string };
        await this.transactions.run((manager) => this.bank.settle(manager, id));
        return { settled: id };
      }
      case JOBS.sandboxBank.bounceReturn: {
        const { id } = job.data as { id: string };
        await this.transactions.run((manager) => this.bank.bounce(manager, id));
        return { bounced: id };
      }
      case JOBS.sandboxBank.deliverWebhook:
        return this.deliver(job.data as { event: { id: string }; url: string });
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.sandboxBank}`);
    }
  }

  private async deliver({ event, url }: { event: { id: string }; url: string }): Promise<{ status: number }> {
    const raw = JSON.stringify(event);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signPayload(this.config.webhookSecret, raw) },
      body: raw,
      signal: AbortSignal.timeout(10000),
    });
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`Bank callback delivery answered ${response.status}`);
    return { status: response.status };
  }
}
