import { loadTradesConfig } from '../../config';
import { pollDelayMs } from '../../queues/retry-policies';
import { watchJobId } from '../../queues/job-ids';
import { stepErrorText, watchMessage } from './settlement-run';
import { NotYet } from '../funding/provider-steps';
import { PaypalApiError } from '../providers/paypal/paypal.port';

describe('watching an outcome after the end', () => {
  // The defaults: a payout unclaimed for 30 days must be watched past them without any delay overflowing.
  const config = loadTradesConfig({});

  it('polls with the defaults from the poll interval up to the cap, for longer than PayPal keeps a payout unclaimed', () => {
    const message = watchMessage('2f1c0f5e-0000-4000-8000-000000000001', 'watch_payout', 1, config);
    const retry = message.retry!;
    expect(retry.backoffType).toBe('poll');
    let waitedMs = 0;
    for (let attempt = 1; attempt < retry.attempts!; attempt += 1) {
      const delay = pollDelayMs(attempt, retry.backoffMs!, retry.backoffCapMs!);
      expect(delay).toBeLessThanOrEqual(config.settlementWatchPollMaxMs);
      // Every delay fits a timer and a 32-bit integer.
      expect(delay).toBeLessThan(2 ** 31);
      waitedMs += delay;
    }
    expect(waitedMs).toBeGreaterThanOrEqual(30 * 24 * 60 * 60 * 1000);
    expect(config.payoutWatchFlagAfterMs).toBeGreaterThan(30 * 24 * 60 * 60 * 1000);
  });

  it('names each watch job by trade, step and attempt, with no character BullMQ refuses', () => {
    expect(watchJobId('t-1', 'watch_bank_return', 2)).toBe('watch-bank-return-t-1-2');
    expect(watchJobId('t-1', 'watch_payout', 1)).not.toContain(':');
  });
});

describe('what a step keeps of a failure', () => {
  it('keeps names and codes, never a message that could quote a person', () => {
    expect(stepErrorText(new PaypalApiError(422, 'UNPROCESSABLE_ENTITY', 'PAYEE_ACCOUNT_RESTRICTED', 'receiver jane@example.com'))).toBe(
      'UNPROCESSABLE_ENTITY PAYEE_ACCOUNT_RESTRICTED (422)',
    );
    expect(stepErrorText(new Error('could not pay jane@example.com'))).toBe('Error');
    expect(stepErrorText(new NotYet('payout B1 is PENDING'))).toBe('not yet: payout B1 is PENDING');
  });
});
