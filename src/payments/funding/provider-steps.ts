/** The small shared vocabulary of the funding and settlement jobs: request ids, waiting. (Job ids and retry policies: `src/queues/`.) */

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
