import type { Job } from 'bullmq';
import { HousekeepingProcessor } from './housekeeping/housekeeping.processor';
import { MarketProcessor } from './market/market.processor';
import { WebhookDeliveryProcessor } from './notifications/webhooks/webhook-delivery.processor';
import { FundingProcessor } from './payments/funding/funding.processors';
import { BankMockProcessor } from './sandbox/bank/bank-mock.processor';
import { PaypalMockDeliveryProcessor } from './sandbox/paypal/paypal-mock.delivery.processor';
import { WechatMockProcessor } from './sandbox/wechat/wechat-mock.processor';
import { SettlementProcessor } from './payments/settlement/settlement.processor';
import { VerificationProcessor } from './payments/verification/verification.processor';
import { handledJobsOf, jobHandlerProblems, processorQueueOf } from './queues/job-handlers';
import { ALL_QUEUES, JOBS } from './queues/queue-names';
import { RatesProcessor } from './rates/rates.processor';
import { ReconciliationProcessor } from './reconciliation/reconciliation.processor';
import { DeadlinesProcessor } from './trades/deadlines.processor';
import { FanOutProcessor } from './notifications/fan-out.processor';

const PROCESSORS = [
  HousekeepingProcessor,
  RatesProcessor,
  MarketProcessor,
  DeadlinesProcessor,
  FundingProcessor,
  SettlementProcessor,
  VerificationProcessor,
  ReconciliationProcessor,
  WebhookDeliveryProcessor,
  PaypalMockDeliveryProcessor,
  BankMockProcessor,
  WechatMockProcessor,
  FanOutProcessor,
];

const ALL_NAMES = Object.values(JOBS).flatMap((names) => Object.values(names) as string[]);

describe("the processors' declared job names", () => {
  it('cover every job in JOBS, each once, with nothing JOBS does not declare', () => {
    const declarations = PROCESSORS.map((type) => ({ processor: type.name, queue: processorQueueOf(type)!, handles: handledJobsOf(type) }));
    expect(jobHandlerProblems(declarations, ALL_QUEUES)).toEqual([]);
  });

  // A processor built without its services: a name its dispatch handled would reach one and fail otherwise.
  it.each(PROCESSORS.map((type) => [type.name, type] as const))('%s refuses every job name it does not declare', async (_, type) => {
    const processor = Object.create(type.prototype as object) as { process(job: Job): Promise<unknown> };
    const declared = handledJobsOf(type)!.names;
    for (const name of ALL_NAMES.filter((job) => !declared.includes(job))) {
      await expect(processor.process({ name, data: {} } as Job)).rejects.toThrow(`No handler for job "${name}"`);
    }
  });
});
