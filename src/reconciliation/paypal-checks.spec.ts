import { payoutOwner } from './paypal-checks';

describe('payoutOwner', () => {
  const trade = '3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b';

  it('reads the trade and attempt a sender_batch_id names', () => {
    expect(payoutOwner(`yb-${trade}-payout`)).toEqual({ tradeId: trade, attempt: 1 });
    expect(payoutOwner(`yb-${trade}-payout-3`)).toEqual({ tradeId: trade, attempt: 3 });
  });

  it.each([null, '', 'not-ours-1', `yb-${trade}-refund`, `yb-${trade}-payout-`, `yb-${trade.toUpperCase()}-payout`, `xyb-${trade}-payout`])(
    'names nobody for %p',
    (senderBatchId) => {
      expect(payoutOwner(senderBatchId)).toBeNull();
    },
  );
});
