import { randomUUID } from 'node:crypto';
import { TestUser } from './factories';
import type { Api } from './http';
import { eventually } from './test-app';
import { newTrade, tradeState } from './trades';

export interface PaypalTrade {
  traveler: TestUser;
  counterparty: TestUser;
  payoutEmail: string;
  trade: { id: string };
}

/** A PayPal trade awaiting funding at 7.2400, accepted by a counterparty who is paid at `payoutEmail`. */
export async function paypalTrade(
  api: Api,
  amountCny = '1000.00',
  payoutEmail = `payout-${randomUUID().slice(0, 8)}@example.com`,
): Promise<PaypalTrade> {
  return newTrade(api, { paymentMethod: 'paypal', amountCny, handles: { payoutEmail } });
}

/** The traveler starts funding and approves at the PayPal mock; the webhook or the poll funds the trade. Returns the order id. */
export async function fundAtPaypal(api: Api, trade: { id: string }, traveler: TestUser, timeoutMs = 10000): Promise<string> {
  const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
  if (funding.status !== 201) throw new Error(`funding: ${funding.status} ${funding.text}`);
  await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: 'traveler-paypal@example.com' } });
  await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'funded', timeoutMs);
  return funding.body.orderId;
}
