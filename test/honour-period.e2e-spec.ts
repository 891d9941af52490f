import { LedgerCheckService } from '../src/trades/ledger-check.service';
import { TestUser } from './support/factories';
import { eventually } from './support/test-app';
import { quietRates, fastProviders, cappedPolls } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundedTrade as fundedPaypalOrBankTrade, tradeState } from './support/trades';

/**
 * PayPal's honour period, configured short on the platform and the mock alike, with nothing promoted by hand:
 * a held authorization is captured into escrow by itself before the mock lets it expire, and the trade then
 * settles out of the capture, whether released or refunded.
 */
describe('PayPal honour period (HTTP, real timers)', () => {
  const { test, api, db } = useTestApp(
    {
      ...quietRates,
      ...fastProviders,
      ...cappedPolls,
      // Captured at four fifths of 1 s; the mock's authorization is gone after 3 s; the payout window ends at 6 s.
      PAYPAL_HONOR_PERIOD_MS: '1000',
      PAYPAL_MOCK_HONOR_PERIOD_MS: '1000',
      PAYPAL_MOCK_VALIDITY_MS: '3000',
      PAYOUT_WINDOW_MS: '6000',
      // The sweeper backs up the deadline jobs, as in production; here it looks every second.
      DEADLINE_SWEEP_EVERY_MS: '1000',
    },
    { reference: '7.2400' },
  );

  const state = (tradeId: string, token: string) => tradeState(api, tradeId, token);
  const authorizationOf = async (orderId: string) =>
    (await db.query(`SELECT status, captured_cents, expiration_time FROM paypal_mock_authorizations WHERE order_id = $1`, [orderId]))
      .rows[0] as { status: string; captured_cents: string; expiration_time: Date };

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
      expect(await authorizationOf(orderId)).toMatchObject({ captured_cents: '13812' });
      expect(await state(tradeId, traveler.token)).toBe('funded');
    }
    // Past the mock's validity an uncaptured authorization could be neither captured nor voided: only the capture holds the money.
    const expiresAt = (await authorizationOf(released.orderId)).expiration_time.getTime();
    await eventually(async () => Date.now() > expiresAt + 100, 5000);

    // (a) The traveler confirms receipt: paid out of the capture, less the fee; no second capture.
    await api('POST', `/v1/trades/${released.tradeId}/confirm-receipt`, { token: released.traveler.token });
    await eventually(async () => (await state(released.tradeId, released.traveler.token)) === 'completed', 15000);
    const payout = await db.query(`SELECT receiver, amount_cents, status FROM paypal_mock_payout_items WHERE sender_item_id = $1`, [
      `yb-${released.tradeId}-payout`,
    ]);
    expect(payout.rows).toEqual([{ receiver: released.payoutEmail, amount_cents: '13674', status: 'SUCCESS' }]);
    const captures = await db.query(
      `SELECT count(*)::int AS n FROM paypal_mock_captures c JOIN paypal_mock_authorizations a ON a.id = c.authorization_id WHERE a.order_id = $1`,
      [released.orderId],
    );
    expect(captures.rows[0].n).toBe(1);

    // (b) The other's payout window passes by itself: refunded, by a refund of the capture.
    await eventually(async () => (await state(refunded.tradeId, refunded.traveler.token)) === 'refunded', 20000, 200);
    const refunds = await db.query(
      `SELECT r.amount_cents FROM paypal_mock_refunds r
         JOIN paypal_mock_captures c ON c.id = r.capture_id JOIN paypal_mock_authorizations a ON a.id = c.authorization_id
        WHERE a.order_id = $1`,
      [refunded.orderId],
    );
    expect(refunds.rows).toEqual([{ amount_cents: '13812' }]);
    expect((await api('GET', `/v1/trades/${refunded.tradeId}`, { token: refunded.traveler.token })).body.feeUsd).toBe('0.00');

    expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  }, 40000);
});
