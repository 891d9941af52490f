/** The small shared vocabulary of the funding and settlement jobs: request ids, job ids, waiting. */

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
 * The retry policy of provider work: keep asking at the poll interval. A job that gave up would leave money
 * owed with only the sweeper to notice; the jobs end by themselves once their trade has moved on.
 */
export function keepTrying(providerPollEveryMs: number): { attempts: number; backoffMs: number; backoffType: 'fixed' } {
  return { attempts: 1000, backoffMs: providerPollEveryMs, backoffType: 'fixed' };
}
