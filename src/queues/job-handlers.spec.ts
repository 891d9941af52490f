import { Processor, WorkerHost } from '@nestjs/bullmq';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { appConfig, sandboxConfig } from '../config';
import { MOCKS_ONLY } from '../runtime';
import { JobHandlerCheck } from './job-handler-check';
import { HandlesJobs, handledJobsOf, jobHandlerProblems, ProcessorDeclaration, processorQueueOf } from './job-handlers';
import { ALL_QUEUES, JOBS, QUEUES } from './queue-names';

const rates = (names: readonly string[]): ProcessorDeclaration => ({
  processor: 'RatesProcessor',
  queue: QUEUES.rates,
  handles: { queue: QUEUES.rates, names },
});

describe('jobHandlerProblems', () => {
  it('finds nothing when every name of a required queue has one handler', () => {
    expect(jobHandlerProblems([rates([JOBS.rates.refreshReference])], [QUEUES.rates])).toEqual([]);
  });

  it('names a job without a handler', () => {
    expect(jobHandlerProblems([rates([])], [QUEUES.rates])).toEqual(['No handler for job "refresh-reference-rate" on queue "rates"']);
    expect(jobHandlerProblems([], [QUEUES.market])).toEqual([
      'No handler for job "expire-request" on queue "market"',
      'No handler for job "sweep-expired-requests" on queue "market"',
    ]);
  });

  it('names a handled job JOBS does not declare, and a processor that declares nothing', () => {
    expect(jobHandlerProblems([rates([JOBS.rates.refreshReference, 'refresh-everything'])], [])).toEqual([
      'RatesProcessor handles job "refresh-everything", which JOBS does not declare for queue "rates"',
    ]);
    expect(jobHandlerProblems([{ processor: 'RatesProcessor', queue: QUEUES.rates }], [])).toEqual([
      'RatesProcessor (queue "rates") does not declare the job names it handles (@HandlesJobs)',
    ]);
  });

  it('names a declaration for another queue, and a job two processors claim', () => {
    const wrongQueue = {
      processor: 'MarketProcessor',
      queue: QUEUES.market,
      handles: { queue: QUEUES.rates, names: [JOBS.rates.refreshReference] },
    };
    expect(jobHandlerProblems([wrongQueue], [])).toEqual(['MarketProcessor works queue "market" but declares the jobs of queue "rates"']);
    const twice = { ...rates([JOBS.rates.refreshReference]), processor: 'OtherRates' };
    expect(jobHandlerProblems([rates([JOBS.rates.refreshReference]), twice], [QUEUES.rates])).toEqual([
      'Job "refresh-reference-rate" on queue "rates" is handled by both RatesProcessor and OtherRates',
    ]);
  });

  it('reads the declarations from the decorators', () => {
    @HandlesJobs('market', [JOBS.market.expireRequest])
    @Processor(QUEUES.market)
    class Demo extends WorkerHost {
      process(): Promise<void> {
        return Promise.resolve();
      }
    }
    expect(processorQueueOf(Demo)).toBe('market');
    expect(handledJobsOf(Demo)).toEqual({ queue: 'market', names: ['expire-request'] });
  });
});

describe('JobHandlerCheck', () => {
  @HandlesJobs('rates', [])
  @Processor(QUEUES.rates)
  class RatesWithoutHandler extends WorkerHost {
    process(): Promise<void> {
      return Promise.resolve();
    }
  }

  const start = async (
    providers: Array<new (...args: never[]) => unknown>,
    sandbox = false,
    where: { mocksUrl?: string; mocksOnly?: boolean } = {},
  ) => {
    const module = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [
        JobHandlerCheck,
        { provide: appConfig.KEY, useValue: { sandbox } },
        { provide: sandboxConfig.KEY, useValue: { mocksUrl: where.mocksUrl } },
        { provide: MOCKS_ONLY, useValue: where.mocksOnly ?? false },
        ...providers,
      ],
    }).compile();
    await module.init();
    await module.close();
  };

  it('fails the start of a process with workers, naming the job without a handler', async () => {
    await expect(start([RatesWithoutHandler])).rejects.toThrow(/No handler for job "refresh-reference-rate" on queue "rates"/);
    // Every other required queue is named too; the sandbox queues are not required outside sandbox mode.
    await expect(start([RatesWithoutHandler])).rejects.toThrow(/No handler for job "check-funding" on queue "funding"/);
    await expect(start([RatesWithoutHandler])).rejects.not.toThrow(/sandbox/);
    await expect(start([RatesWithoutHandler], true)).rejects.toThrow(/on queue "sandbox-bank"/);
  });

  it("requires the mocks' queues only where the mocks are served", async () => {
    // The service with its mocks in another process: theirs are not required here.
    await expect(start([RatesWithoutHandler], true, { mocksUrl: 'http://127.0.0.1:3100' })).rejects.not.toThrow(/sandbox/);
    // The sandbox process: only theirs are.
    const mocksOnly = start([RatesWithoutHandler], true, { mocksOnly: true });
    await expect(mocksOnly).rejects.toThrow(/on queue "sandbox-bank"/);
    await expect(start([RatesWithoutHandler], true, { mocksOnly: true })).rejects.not.toThrow(/queue "funding"/);
  });

  it('checks nothing in a process without workers', async () => {
    await expect(start([])).resolves.toBeUndefined();
  });

  it('requires every queue JOBS names', () => {
    expect(Object.keys(JOBS).map((key) => QUEUES[key as keyof typeof QUEUES])).toEqual(ALL_QUEUES);
  });
});
