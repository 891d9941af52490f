import type { OutboxMessage } from '../../outbox/outbox.service';
import { honorCaptureJobId } from '../../queues/job-ids';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { keepTrying } from '../../queues/retry-policies';

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

/**
 * The honour-period capture's job, due in `delayMs`: queued at funding only when the capture falls within the
 * provider-work sweep's horizon (`queues/sweep-horizon.ts`), otherwise by the sweep as it nears, under this one id.
 * PayPal down at that moment must not mean the period runs out: it keeps trying, as settlement does.
 */
export function honorCaptureMessage(tradeId: string, delayMs: number, providerPollEveryMs: number): OutboxMessage {
  return {
    queue: QUEUES.settlement,
    jobName: JOBS.settlement.captureIntoEscrow,
    jobId: honorCaptureJobId(tradeId),
    payload: { tradeId },
    delayMs,
    retry: keepTrying(providerPollEveryMs),
  };
}
