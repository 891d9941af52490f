import { randomBytes } from 'node:crypto';
import { registerUser } from '../factories';
import type { ApiResponse, RequestOptions } from '../http';
import { fixed, wechatId, withWallet } from '../market';
import type { Model, PaymentMethod, Sim, SimTrade } from './model';

/** The receiver the PayPal mock leaves UNCLAIMED, then RETURNED (PAYPAL_MOCK_UNCLAIMED_RECEIVERS). */
export const UNCLAIMED_RECEIVER = 'sim-unclaimed@example.com';
export const RATE = '7.2400';

/** A call to the service; a 500 from the platform's own API is remembered as a violation of the step. */
export async function call(sim: Sim, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const response = await sim.api(method, path, options);
  if (response.status === 500 && path.startsWith('/v1/')) sim.serverErrors.push(`500 to ${method} ${path}: ${response.text.slice(0, 200)}`);
  return response;
}

export interface OpenTradeParams {
  method: PaymentMethod;
  amountCny: string;
  via: 'accept' | 'take';
  unclaimedPayout: boolean;
}

/** Fresh parties for each trade: tier limits and daily volume never get in the way of the sequence. */
async function parties(sim: Sim, unclaimedPayout: boolean) {
  const travelerWallet = wechatId();
  const counterpartyWallet = wechatId();
  const traveler = await withWallet(sim.api, await registerUser(sim.api, 'traveler', 'sim-traveler'), travelerWallet);
  const counterparty = await withWallet(sim.api, await registerUser(sim.api, 'counterparty', 'sim-counterparty'), counterpartyWallet);
  const payoutEmail = unclaimedPayout ? UNCLAIMED_RECEIVER : `sim-payout-${randomBytes(4).toString('hex')}@example.com`;
  await sim.api('PUT', '/v1/me/payout-account', { token: counterparty.token, body: { method: 'paypal', paypalEmail: payoutEmail } });
  await sim.api('POST', '/sandbox/wechat/wallets', { body: { wechatId: travelerWallet, balanceCny: '0.00' } });
  await sim.api('POST', '/sandbox/wechat/wallets', { body: { wechatId: counterpartyWallet, balanceCny: '100000.00' } });
  return { traveler, counterparty, travelerWallet, counterpartyWallet };
}

/** A trade awaiting funding, by a traveler's request a counterparty accepts or a counterparty's offer a traveler takes. */
export async function openTrade(sim: Sim, model: Model, params: OpenTradeParams): Promise<SimTrade | undefined> {
  const who = await parties(sim, params.unclaimedPayout);
  let opened: ApiResponse;
  if (params.via === 'accept') {
    const request = await call(sim, 'POST', '/v1/requests', {
      token: who.traveler.token,
      body: { amountCny: params.amountCny, price: fixed(RATE), paymentMethod: params.method },
    });
    opened = await call(sim, 'POST', `/v1/requests/${request.body.id}/accept`, { token: who.counterparty.token, body: {} });
  } else {
    const offer = await call(sim, 'POST', '/v1/offers', {
      token: who.counterparty.token,
      body: {
        minCny: params.amountCny,
        maxCny: params.amountCny,
        totalCny: params.amountCny,
        price: fixed(RATE),
        paymentMethods: [params.method],
      },
    });
    opened = await call(sim, 'POST', `/v1/offers/${offer.body.id}/take`, {
      token: who.traveler.token,
      body: { amountCny: params.amountCny, paymentMethod: params.method },
    });
  }
  if (opened.status !== 201) throw new Error(`opening a trade: ${opened.status} ${opened.text}`);
  const trade: SimTrade = {
    n: model.trades.length,
    id: opened.body.id,
    method: params.method,
    ...who,
    senderAccount: `SIM-${randomBytes(6).toString('hex').toUpperCase()}`,
    payerEmail: `sim-payer-${randomBytes(4).toString('hex')}@example.com`,
    amountCny: opened.body.amountCny,
    amountUsd: opened.body.amountUsd,
    state: opened.body.state,
    settlementFailing: false,
  };
  model.trades.push(trade);
  sim.figures.trades += 1;
  return trade;
}

/** Reads every trade of the sequence back: the service moves them on its own between steps. */
export async function refresh(sim: Sim, model: Model): Promise<void> {
  if (model.trades.length === 0) return;
  const rows = await sim.db.query(`SELECT id, state, settlement_failing FROM trades WHERE id = ANY($1::uuid[])`, [
    model.trades.map((t) => t.id),
  ]);
  const byId = new Map(rows.rows.map((r: { id: string; state: string; settlement_failing: boolean }) => [r.id, r]));
  for (const trade of model.trades) {
    const row = byId.get(trade.id);
    if (row) Object.assign(trade, { state: row.state, settlementFailing: row.settlement_failing });
  }
}

/** Waits up to `ms` for the trade to leave the state `leave`; never fails: the service may be faulted. */
export async function settleBriefly(sim: Sim, trade: SimTrade, leave: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const row = await sim.db.query(`SELECT state FROM trades WHERE id = $1`, [trade.id]);
    if (row.rows[0]?.state !== leave) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
