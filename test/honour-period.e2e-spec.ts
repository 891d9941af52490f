import { LedgerCheckService } from '../src/trades/ledger-check.service';
import { TestUser } from './support/factories';
import { eventually } from './support/test-app';
import { quietRates, fastProviders, cappedPolls } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundedTrade as fundedPaypalOrBankTrade, tradeState } from './support/trades';
import { paypalOrder, paypalPayoutItems } from './support/paypal';

/**
 * PayPal's honour period, configured short on the platform and the mock alike, with nothing promoted by hand:
 * a held authorization is captured into escrow by itself before the mock lets it expire, and the trade then
 * settles out of the capture, whether released or refunded.
 */
describe('PayPal honour period (HTTP, real timers)', () => {
  const { test, api } = useTestApp(
    {
      ...quietRates,
      ...fastProviders,
      ...cappedPolls,
      // Captured at four fifths of 1 s; the mock's authorization is gone after 3 s; the payout window ends at 10 s,
      // well after the receipt is confirmed (about 4 s in) on a slow machine.
      PAYPAL_HONOR_PERIOD_MS: '1000',
      PAYPAL_MOCK_HONOR_PERIOD_MS: '1000',
      PAYPAL_MOCK_VALIDITY_MS: '3000',
      PAYOUT_WINDOW_MS: '10000',
      // The sweeper backs up the deadline jobs, as in production; here it looks every second.
      DEADLINE_SWEEP_EVERY_MS: '1000',
    },
    { reference: '7.2400' },
  );

  const state = (tradeId: string, token: string) => tradeState(api, tradeId, token);
  const authorizationOf = async (orderId: string) => (await paypalOrder(api, orderId)).authorization!;

  /** A funded PayPal trade of 1000 CNY at 7.24: $138.12, fee $1.38. */
  async function fundedTrade(): Promise<{ traveler: TestUser; tradeId: string; orderId: string; payoutEmail: string }> {
    const { traveler, trade, orderId, payoutEmail } = await fundedPaypalOrBankTrade(api);
    return { traveler, tradeId: trade.id, orderId: orderId!, payoutEmail };
  }

  it('captures each held authorization into escrow by itself, then releases one and refunds the other out of the capture', async () => {
    const [released, refunded] = await Promise.all([fundedTrade(), fundedTrade()]);

    // Nothing promoted: the honour-period jobs capture both, while the trades are still funded.
    for (const { traveler, tradeId, orderId } of [released, refunded]) {
      await eventually(async () => (await authorizationOf(orderId)).status === 'CAPTURED', 5000);
      expect(await authorizationOf(orderId)).toMatchObject({ capturedCents: '13812' });
      expect(await state(tradeId, traveler.token)).toBe('funded');
    }
    // Past the mock's validity an uncaptured authorization could be neither captured nor voided: only the capture holds the money.
    // PayPal shows the time to the second: the authorization expires within the second after it.
    const expiresAt = new Date((await authorizationOf(released.orderId)).expirationTime).getTime() + 1000;
    await eventually(async () => Date.now() > expiresAt + 100, 5000);

    // (a) The traveler confirms receipt: paid out of the capture, less the fee; no second capture.
    await api('POST', `/v1/trades/${released.tradeId}/confirm-receipt`, { token: released.traveler.token });
    await eventually(async () => (await state(released.tradeId, released.traveler.token)) === 'completed', 15000);
    const payout = await paypalPayoutItems(api, `yb-${released.tradeId}-payout`);
    expect(payout.map(({ receiver, amountCents, status }) => ({ receiver, amountCents, status }))).toEqual([
      { receiver: released.payoutEmail, amountCents: '13674', status: 'SUCCESS' },
    ]);
    expect((await paypalOrder(api, released.orderId)).captures).toHaveLength(1);

    // (b) The other's payout window passes by itself: refunded, by a refund of the capture.
    await eventually(async () => (await state(refunded.tradeId, refunded.traveler.token)) === 'refunded', 20000, 200);
    const refunds = (await paypalOrder(api, refunded.orderId)).refunds;
    expect(refunds.map(({ amountCents }) => ({ amountCents }))).toEqual([{ amountCents: '13812' }]);
    expect((await api('GET', `/v1/trades/${refunded.tradeId}`, { token: refunded.traveler.token })).body.feeUsd).toBe('0.00');

    expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  }, 40000);
});
