import { randomUUID } from 'node:crypto';
import { registerUser, TestUser } from './factories';
import type { Api } from './http';
import { fixed, wechatId, withWallet } from './market';
import { eventually } from './test-app';
import type {
  FundingConfirmedDetail,
  RefundCompletedDetail,
  ReleaseCompletedDetail,
  SplitCompletedDetail,
} from '../../src/trades/trade-timeline';

export type PaymentMethod = 'paypal' | 'bank_transfer';

/** Provider ids for the transitions a test drives itself, with no provider behind them. */
export const FUNDED: FundingConfirmedDetail = { provider: 'paypal', orderId: 'ORDER-TEST', authorizationId: 'AUTH-TEST' };
export const RELEASED: ReleaseCompletedDetail = { provider: 'paypal', payoutBatchId: 'BATCH-TEST' };
export const REFUNDED: RefundCompletedDetail = { provider: 'paypal', voided: 'AUTH-TEST' };
export const SPLIT_SETTLED: SplitCompletedDetail = { provider: 'paypal', refundId: 'REFUND-TEST', payoutBatchId: 'BATCH-TEST' };

/** Each party's payment handles, as the other party or an operator may be shown them. */
export interface TradeHandles {
  travelerWechat: string;
  /** The PayPal address the traveler pays from when the trade is funded by PayPal. */
  travelerPaypal: string;
  counterpartyWechat: string;
  payoutEmail: string;
}

export interface NewTrade {
  traveler: TestUser;
  counterparty: TestUser;
  trade: { id: string };
  handles: TradeHandles;
  payoutEmail: string;
}

export interface FundedTrade extends NewTrade {
  /** The PayPal order (PayPal trades). */
  orderId?: string;
  /** The bank transfer's reference and amount (bank-transfer trades). */
  reference?: string;
  amountUsd?: string;
}

export interface TradeOptions {
  paymentMethod?: PaymentMethod;
  amountCny?: string;
  handles?: Partial<TradeHandles>;
}

/**
 * A trade awaiting funding at 7.2400 (1000 CNY by default: $138.12, fee $1.38) between a new traveler and a new
 * counterparty, both with WeChat wallets on file and the counterparty paid out by PayPal.
 */
export async function newTrade(api: Api, options: TradeOptions = {}): Promise<NewTrade> {
  const handles: TradeHandles = {
    travelerWechat: wechatId(),
    travelerPaypal: 'traveler-paypal@example.com',
    counterpartyWechat: wechatId(),
    payoutEmail: `payout-${randomUUID().slice(0, 8)}@example.com`,
  };
  for (const [name, value] of Object.entries(options.handles ?? {})) if (value !== undefined) handles[name as keyof TradeHandles] = value;
  const traveler = await withWallet(api, await registerUser(api, 'traveler'), handles.travelerWechat);
  const counterparty = await withWallet(api, await registerUser(api, 'counterparty'), handles.counterpartyWechat);
  const payout = await api('PUT', '/v1/me/payout-account', {
    token: counterparty.token,
    body: { method: 'paypal', paypalEmail: handles.payoutEmail },
  });
  if (payout.status !== 200) throw new Error(`payout: ${payout.status} ${payout.text}`);
  const request = await api('POST', '/v1/requests', {
    token: traveler.token,
    body: { amountCny: options.amountCny ?? '1000.00', price: fixed('7.2400'), paymentMethod: options.paymentMethod ?? 'paypal' },
  });
  expect(request.status).toBe(201);
  const trade = (await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} })).body;
  expect(trade.state).toBe('awaiting_funding');
  return { traveler, counterparty, trade, handles, payoutEmail: handles.payoutEmail };
}

/**
 * Funds an open trade through the mocks, as its traveler would: approves the PayPal order from the traveler's
 * PayPal address, or sends the bank transfer in full; then waits until the trade shows funded.
 */
export async function fundTrade(api: Api, opened: NewTrade, timeoutMs = 10000): Promise<FundedTrade> {
  const { traveler, trade, handles } = opened;
  const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
  expect(funding.status).toBe(201);
  if (funding.body.provider === 'paypal') {
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: handles.travelerPaypal } });
  } else {
    await api('POST', '/sandbox/bank/incoming', { body: { reference: funding.body.reference, amountUsd: funding.body.amountUsd } });
  }
  await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state === 'funded', timeoutMs);
  return { ...opened, orderId: funding.body.orderId, reference: funding.body.reference, amountUsd: funding.body.amountUsd };
}

/** `newTrade`, then `fundTrade`. */
export async function fundedTrade(api: Api, options: TradeOptions = {}): Promise<FundedTrade> {
  return fundTrade(api, await newTrade(api, options));
}
