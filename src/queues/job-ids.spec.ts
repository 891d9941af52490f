import * as ids from './job-ids';
import { assertJobId } from './queue-names';

describe('job ids', () => {
  const at = new Date(1_700_000_000_000);
  const built: Array<[string, string]> = [
    [ids.fundingDeadlineJobId('t1'), 'deadline-t1-funding'],
    [ids.payoutDeadlineJobId('t1'), 'deadline-t1-payout'],
    [ids.extendedDeadlineJobId('t1', 'payout', at), 'deadline-t1-payout-extended-1700000000000'],
    [ids.fanOutEventJobId('e1'), 'fan-out-e1'],
    [ids.fanOutEventSweepJobId('e1', 7), 'fan-out-e1-sweep-7'],
    [ids.expireRequestJobId('r1'), 'expire-request-r1'],
    [ids.checkFundingJobId('t1', 'poll'), 'check-funding-t1-poll'],
    [ids.settleJobId('t1', 'releasing'), 'settle-t1-releasing'],
    [ids.settleRetryJobId('t1', 'n1'), 'settle-t1-retry-n1'],
    [ids.watchJobId('t1', 'watch_payout', 3), 'watch-payout-t1-3'],
    [ids.disputeCaptureJobId('t1'), 'dispute-capture-t1'],
    [ids.honorCaptureJobId('t1'), 'honor-capture-t1'],
    [ids.bankReturnJobId('x1'), 'bank-return-x1'],
    [ids.bankReturnJobId('x1', 'e1'), 'bank-return-x1-e1'],
    [ids.bankIncomingJobId('x1', 'e1'), 'bank-incoming-x1-e1'],
    [ids.verifyPayoutJobId('t1'), 'verify-t1'],
    [ids.verifyPayoutJobId('t1', 'e1'), 'verify-t1-e1'],
    [ids.lastSearchJobId('t1', at), 'last-search-t1-1700000000000'],
    [ids.sweepCopyJobId('settle-t1-releasing'), 'settle-t1-releasing-sweep'],
    [ids.reconcileNowJobId('n1'), 'reconcile-now-n1'],
    [ids.webhookDeliveryJobId('d1'), 'webhook-delivery-d1'],
    [ids.webhookDeliverySweepJobId('d1', 3), 'webhook-delivery-d1-sweep-3'],
    [ids.paypalPayoutSettleJobId('b1'), 'paypal-payout-settle-b1'],
    [ids.paypalPayoutReturnJobId('i1'), 'paypal-payout-return-i1'],
    [ids.paypalWebhookJobId('e1', 1), 'paypal-webhook-e1-1'],
    [ids.bankSettleJobId('x1'), 'bank-settle-x1'],
    [ids.bankBounceJobId('x1'), 'bank-bounce-x1'],
    [ids.bankWebhookJobId('e1', 0), 'bank-webhook-e1-0'],
    [ids.wechatNotifyJobId('n1', 1, 2), 'wechat-notify-n1-1-2'],
    [ids.wechatTransferSettleJobId('w1'), 'wechat-transfer-settle-w1'],
  ];

  it.each(built)('%s is %s, and a valid BullMQ id', (id, expected) => {
    expect(id).toBe(expected);
    expect(assertJobId(id)).toBe(id);
  });

  it('covers every builder', () => {
    expect(built).toHaveLength(Object.keys(ids).length + 2); // two builders are listed with and without an event id
  });
});
