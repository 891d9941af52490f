import type { MinimalJob } from 'bullmq';
import { fundingPoll, pollAttemptsWithin, pollBackoffStrategy, pollDelayMs } from './retry-policies';

describe('the funding poll backoff', () => {
  it('starts at the poll interval, doubles, and stops growing at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((retry) => pollDelayMs(retry, 10000, 60000))).toEqual([
      10000, 20000, 40000, 60000, 60000, 60000, 60000, 60000,
    ]);
    expect(pollDelayMs(500, 10000, 60000)).toBe(60000);
  });

  it('never goes below the poll interval, even with a smaller cap', () => {
    expect(pollDelayMs(1, 10000, 5000)).toBe(10000);
    expect(pollDelayMs(4, 10000, 5000)).toBe(10000);
  });

  it('runs until the funding window has passed, and no longer', () => {
    // PayPal, 30 min: runs at 10 s, 20 s, 40 s, 80 s, 140 s, then every minute: the 33rd run, at 1820 s, is the first past 1800 s.
    const attempts = pollAttemptsWithin(30 * 60 * 1000, 10000, 60000);
    const lastRunAt = (n: number) => {
      let at = 10000;
      for (let retry = 1; retry < n; retry += 1) at += pollDelayMs(retry, 10000, 60000);
      return at;
    };
    expect(lastRunAt(attempts)).toBeGreaterThanOrEqual(30 * 60 * 1000);
    expect(lastRunAt(attempts - 1)).toBeLessThan(30 * 60 * 1000);
    expect(attempts).toBe(33);
    // Bank, 24 h: about one run a minute, not one every 10 s.
    expect(pollAttemptsWithin(24 * 3600 * 1000, 10000, 60000)).toBe(1443);
    // A window already over: one last look.
    expect(pollAttemptsWithin(0, 10000, 60000)).toBe(1);
  });

  it('is what BullMQ runs for the funding jobs', () => {
    const retry = fundingPoll(30 * 60 * 1000, { providerPollEveryMs: 10000, providerPollMaxEveryMs: 60000 });
    expect(retry).toEqual({ attempts: 33, backoffMs: 10000, backoffType: 'poll', backoffCapMs: 60000 });
    const job = { opts: { backoff: { type: 'poll', delay: 10000, capMs: 60000 } } } as unknown as MinimalJob;
    expect([1, 3, 9].map((made) => pollBackoffStrategy(made, 'poll', undefined, job))).toEqual([10000, 40000, 60000]);
    expect(() => pollBackoffStrategy(1, 'linear', undefined, job)).toThrow(/Unknown backoff/);
  });
});
