/** The small shared vocabulary of the funding and settlement jobs: request ids, job ids, waiting. */

import type { BackoffStrategy } from 'bullmq';
import type { JobRetryOptions } from '../../outbox/outbox.repository';

/** Thrown by a poll that should ask again later; BullMQ retries the job on its backoff. */
export class NotYet extends Error {
  constructor(what: string) {
    super(`not yet: ${what}`);
    this.name = 'NotYet';
  }
}

/** The provider's request id of one step of one trade: a retry after "did it but failed" finds the first result. */
export function stepRequestId(tradeId: string, step: 'order' | 'authorize' | 'capture' | 'payout' | 'void' | 'refund'): string {
  return `yb-${tradeId}-${step}`;
}

/** When to capture a held authorization into escrow: at four fifths of PayPal's honour period. */
export function honorCaptureDelayMs(honorPeriodMs: number): number {
  return Math.floor((honorPeriodMs * 4) / 5);
}

export function checkFundingJobId(tradeId: string, cause: string): string {
  return `check-funding-${tradeId}-${cause}`;
}

/**
 * The retry policy of provider work (the funding poll aside): keep asking at the poll interval. A job that gave up would leave money
 * owed with only the sweeper to notice; the jobs end by themselves once their trade has moved on.
 */
export function keepTrying(providerPollEveryMs: number): { attempts: number; backoffMs: number; backoffType: 'fixed' } {
  return { attempts: 1000, backoffMs: providerPollEveryMs, backoffType: 'fixed' };
}

/** The funding poll's backoff: its first delay, doubled at each retry, never more than the cap. */
export function pollDelayMs(retry: number, startMs: number, capMs: number): number {
  return Math.min(Math.max(startMs, capMs), startMs * 2 ** Math.min(Math.max(retry - 1, 0), 30));
}

/**
 * How many runs a poll whose first run is `startMs` away needs to keep asking until `windowMs` has passed,
 * and no more: the last run comes at or just after the funding deadline, when the trade has expired.
 */
export function pollAttemptsWithin(windowMs: number, startMs: number, capMs: number): number {
  let elapsed = startMs;
  let attempts = 1;
  while (elapsed < windowMs && attempts < 10000) {
    elapsed += pollDelayMs(attempts, startMs, capMs);
    attempts += 1;
  }
  return attempts;
}

/** The retry policy of a funding check: back off from the poll interval to the cap, and stop at the deadline. */
export function fundingPoll(windowMs: number, config: { providerPollEveryMs: number; providerPollMaxEveryMs: number }): JobRetryOptions {
  const { providerPollEveryMs: startMs, providerPollMaxEveryMs: capMs } = config;
  return { attempts: pollAttemptsWithin(windowMs, startMs, capMs), backoffMs: startMs, backoffType: 'poll', backoffCapMs: capMs };
}

/** BullMQ has no capped exponential backoff: the funding worker computes the `poll` type's delays here. */
export const pollBackoffStrategy: BackoffStrategy = (attemptsMade, type, _error, job) => {
  const backoff = job?.opts.backoff;
  if (type !== 'poll' || typeof backoff !== 'object' || !backoff.delay) throw new Error(`Unknown backoff strategy ${type}`);
  const capMs = (backoff as { capMs?: number }).capMs ?? backoff.delay;
  return pollDelayMs(attemptsMade, backoff.delay, capMs);
};
