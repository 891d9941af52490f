import { randomUUID } from 'node:crypto';
import { registerUser, TestUser } from './factories';
import type { Api } from './http';
import { fixed, wechatId, withWallet } from './market';
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

/** A traveler and a counterparty with everything a PayPal trade needs on file, and no trade yet. */
export interface PaypalParties {
  traveler: TestUser;
  counterparty: TestUser;
  travelerWechat: string;
  counterpartyWechat: string;
  payoutEmail: string;
}

export async function paypalParties(
  api: Api,
  wechat: { traveler: string; counterparty: string } = { traveler: wechatId(), counterparty: wechatId() },
): Promise<PaypalParties> {
  const payoutEmail = `payout-${randomUUID().slice(0, 8)}@example.com`;
  const traveler = await withWallet(api, await registerUser(api, 'traveler'), wechat.traveler);
  const counterparty = await withWallet(api, await registerUser(api, 'counterparty'), wechat.counterparty);
  const payout = await api('PUT', '/v1/me/payout-account', {
    token: counterparty.token,
    body: { method: 'paypal', paypalEmail: payoutEmail },
  });
  expect(payout.status).toBe(200);
  return { traveler, counterparty, travelerWechat: wechat.traveler, counterpartyWechat: wechat.counterparty, payoutEmail };
}

/** The traveler posts a 1000 CNY request at 7.2400 and the counterparty accepts it all; the trade's id. */
export async function openPaypalTrade(
  api: Api,
  { traveler, counterparty }: Pick<PaypalParties, 'traveler' | 'counterparty'>,
): Promise<string> {
  const request = await api('POST', '/v1/requests', {
    token: traveler.token,
    body: { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
  });
  expect(request.status).toBe(201);
  const trade = await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} });
  expect(trade.status).toBe(201);
  return trade.body.id;
}

/** The traveler starts funding and approves at the PayPal mock, without waiting for the trade to be funded. */
export async function approvePaypal(api: Api, tradeId: string, traveler: TestUser): Promise<void> {
  const funding = await api('POST', `/v1/trades/${tradeId}/funding`, { token: traveler.token, body: {} });
  expect(funding.status).toBe(201);
  const approved = await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, {
    body: { payerEmail: 'traveler-paypal@example.com' },
  });
  expect(approved.status).toBe(200);
}

/**
 * The counterparty sends the RMB at the WeChat mock, held PROCESSING there (so the trade stays `payout_sent` until
 * the traveler confirms), and reports it.
 */
export async function reportHeldPayout(api: Api, who: PaypalParties, tradeId: string): Promise<void> {
  await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: who.travelerWechat, balanceCny: '0.00' } });
  await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: who.counterpartyWechat, balanceCny: '1000.00' } });
  const transfer = await api('POST', '/sandbox/wechat/transfers', {
    body: { fromWechatId: who.counterpartyWechat, toWechatId: who.travelerWechat, amountCny: '1000.00', processingMs: 600000 },
  });
  expect(transfer.status).toBe(201);
  const reported = await api('POST', `/v1/trades/${tradeId}/payout`, {
    token: who.counterparty.token,
    body: { wechatTransferId: transfer.body.transferId },
  });
  expect(reported.body.state).toBe('payout_sent');
}
