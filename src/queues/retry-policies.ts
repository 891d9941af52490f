import type { BackoffStrategy, DefaultJobOptions } from 'bullmq';

/**
 * Every retry policy, in one place: the queues' default, and the policies of the jobs it does not fit. A policy
 * travels with its outbox row (`JobRetryOptions`) and becomes the BullMQ job's `attempts` and `backoff` when
 * the relay publishes it.
 */
export interface JobRetryOptions {
  attempts?: number;
  backoffMs?: number;
  /** Exponential by default; fixed for polls that should ask at a steady pace; `poll` doubles up to `backoffCapMs`. */
  backoffType?: 'exponential' | 'fixed' | 'poll';
  /** The longest delay of a `poll` backoff. */
  backoffCapMs?: number;
}

/** Every queue's default: a few tries backing off from a second; finished jobs kept a day, failed ones a week. */
export const DEFAULT_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 24 * 3600, count: 10000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * The retry policy of provider work (the funding poll aside): keep asking at the poll interval. A job that gave up would leave money
 * owed with only the sweeper to notice; the jobs end by themselves once their trade has moved on.
 */
export function keepTrying(providerPollEveryMs: number): { attempts: number; backoffMs: number; backoffType: 'fixed' } {
  return { attempts: 1000, backoffMs: providerPollEveryMs, backoffType: 'fixed' };
}

/** A WeChat transfer's verification and the last search: ask at the poll interval until the trade's own deadline ends them. */
export function keepVerifying(providerPollEveryMs: number): { attempts: number; backoffMs: number; backoffType: 'fixed' } {
  return { attempts: 10000, backoffMs: providerPollEveryMs, backoffType: 'fixed' };
}

/**
 * An event's fan-out: every 5 s for over an hour (a sink's Redis or database away). Nobody is told of a change
 * until it runs; the fan-out sweep queues it again past that.
 */
export const FAN_OUT_RETRY: JobRetryOptions = keepTrying(5000);

/** An operator's reconciliation run waits its turn behind one under way: every second, for two minutes. */
export const RECONCILE_NOW_RETRY: JobRetryOptions = { attempts: 120, backoffMs: 1000, backoffType: 'fixed' };

/** A client webhook delivery: WEBHOOK_ATTEMPTS in all, the first retry after WEBHOOK_BACKOFF_MS, then doubling. */
export function webhookDeliveryRetry(config: { attempts: number; backoffMs: number }): JobRetryOptions {
  return { attempts: config.attempts, backoffMs: config.backoffMs, backoffType: 'exponential' };
}

/** When a client webhook delivery's next attempt runs after `attemptsMade` failed ones (BullMQ's exponential backoff). */
export function webhookRetryDelayMs(attemptsMade: number, backoffMs: number): number {
  return backoffMs * 2 ** Math.min(Math.max(attemptsMade - 1, 0), 30);
}

/** Sandbox: a mock's webhook delivery, as configured for the mock. */
export function mockWebhookRetry(config: { mockWebhookAttempts: number; mockWebhookBackoffMs: number }): JobRetryOptions {
  return { attempts: config.mockWebhookAttempts, backoffMs: config.mockWebhookBackoffMs };
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

/**
 * The retry policy of a watch after the end: from the poll interval, doubling up to the watch's cap, one run past
 * the window (the watch still goes on, the sweeper queues it again; the trade is flagged by then).
 */
export function watchPoll(windowMs: number, config: { providerPollEveryMs: number; settlementWatchPollMaxMs: number }): JobRetryOptions {
  return {
    attempts: pollAttemptsWithin(windowMs, config.providerPollEveryMs, config.settlementWatchPollMaxMs) + 1,
    backoffMs: config.providerPollEveryMs,
    backoffType: 'poll',
    backoffCapMs: config.settlementWatchPollMaxMs,
  };
}

/** BullMQ has no capped exponential backoff: the funding and settlement workers compute the `poll` type's delays here. */
export const pollBackoffStrategy: BackoffStrategy = (attemptsMade, type, _error, job) => {
  const backoff = job?.opts.backoff;
  if (type !== 'poll' || typeof backoff !== 'object' || !backoff.delay) throw new Error(`Unknown backoff strategy ${type}`);
  const capMs = (backoff as { capMs?: number }).capMs ?? backoff.delay;
  return pollDelayMs(attemptsMade, backoff.delay, capMs);
};
