import { randomUUID } from 'node:crypto';
import { createOperator, TestUser } from './factories';
import type { Api } from './http';
import { fixed, readyCounterparty, readyTraveler } from './market';
import { eventually, TestApp } from './test-app';

/** The resources a row's `:id` can name; each actor reads them from its own world. */
export interface World {
  user: string;
  target: string;
  request: string;
  requestToCancel: string;
  offer: string;
  offerToPause: string;
  offerToResume: string;
  offerToClose: string;
  /** Disputed: stable, for reads. */
  trade: string;
  tradeToFund: string;
  tradeToCancel: string;
  tradeForPayout: string;
  tradeToConfirm: string;
  tradeToDispute: string;
  dispute: string;
  disputeToResolve: string;
  apiKey: string;
  /** The traveler's webhook endpoints (to a loopback port the matrix's app allows). */
  webhookEndpoint: string;
  webhookEndpointToDelete: string;
}

export const ACTORS = ['anon', 'trav', 'travKey', 'trav2', 'cp', 'cp2', 'oper', 'sTrav', 'sCp', 'sNon'] as const;
export type ActorName = (typeof ACTORS)[number];

export interface Actor {
  name: ActorName;
  id?: string;
  token?: string;
  apiKey?: string;
  /** What the actor signs in with, where a row's body needs credentials (anon: someone else's). */
  email: string;
  password: string;
  world: World;
}

export type Actors = Record<ActorName, Actor>;

/** A trade of 1,000 CNY at 7.24 by PayPal: the counterparty accepts part of the traveler's request. */
async function accept(api: Api, counterparty: TestUser, requestId: string): Promise<string> {
  const trade = await api('POST', `/v1/requests/${requestId}/accept`, { token: counterparty.token, body: { amountCny: '1000.00' } });
  if (trade.status !== 201) throw new Error(`accept: ${trade.status} ${trade.text}`);
  return trade.body.id;
}

/** Funded through the PayPal mock: the traveler approves the order from a PayPal address of their own. */
async function fund(api: Api, traveler: TestUser, tradeId: string): Promise<string> {
  const funding = await api('POST', `/v1/trades/${tradeId}/funding`, { token: traveler.token, body: {} });
  if (funding.status !== 201) throw new Error(`funding: ${funding.status} ${funding.text}`);
  const payerEmail = `payer-${randomUUID().slice(0, 8)}@example.com`;
  await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail } });
  await eventually(async () => (await api('GET', `/v1/trades/${tradeId}`, { token: traveler.token })).body.state === 'funded', 15000);
  return tradeId;
}

async function dispute(api: Api, traveler: TestUser, tradeId: string): Promise<string> {
  const opened = await api('POST', `/v1/trades/${tradeId}/disputes`, {
    token: traveler.token,
    body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
  });
  if (opened.status !== 201) throw new Error(`dispute: ${opened.status} ${opened.text}`);
  return opened.body.id;
}

async function post(api: Api, token: string, path: string, body?: unknown): Promise<string> {
  const created = await api('POST', path, { token, body });
  if (created.status >= 300) throw new Error(`${path}: ${created.status} ${created.text}`);
  return created.body.id;
}

/**
 * One traveler and one counterparty's requests, offers, trades in every state a row needs, and disputes, made
 * over HTTP; `resolvable` adds a second disputed trade for the operator to resolve.
 */
async function buildWorld(api: Api, operator: TestUser, traveler: TestUser, counterparty: TestUser, resolvable: boolean) {
  for (const user of [traveler, counterparty]) {
    const tier = await api('PUT', `/v1/admin/users/${user.id}/tier`, { token: operator.token, body: { tier: 2 } });
    if (tier.status !== 200) throw new Error(`tier: ${tier.text}`);
  }
  const requestBody = (amountCny: string) => ({ amountCny, price: fixed('7.2400'), paymentMethod: 'paypal', minFillCny: '500' });
  const request = await post(api, traveler.token, '/v1/requests', requestBody('20000.00'));
  const requestToCancel = await post(api, traveler.token, '/v1/requests', requestBody('1000.00'));
  const offerBody = { minCny: '500', maxCny: '5000', totalCny: '20000', price: fixed('7.2400'), paymentMethods: ['paypal'] };
  const [offer, offerToPause, offerToResume, offerToClose] = await Promise.all(
    [0, 1, 2, 3].map(() => post(api, counterparty.token, '/v1/offers', offerBody)),
  );
  if ((await api('POST', `/v1/offers/${offerToResume}/pause`, { token: counterparty.token })).status !== 200) throw new Error('pause');
  // Accepts on one request queue on its row lock: one after another.
  const trades: string[] = [];
  for (let i = 0; i < (resolvable ? 7 : 6); i += 1) trades.push(await accept(api, counterparty, request));
  const [tradeToFund, tradeToCancel, ...toFund] = trades;
  const [tradeForPayout, tradeToConfirm, tradeToDispute, trade, tradeToResolve] = await Promise.all(
    toFund.map((id) => fund(api, traveler, id)),
  );
  const [disputeId, disputeToResolve] = await Promise.all([trade, tradeToResolve].filter(Boolean).map((id) => dispute(api, traveler, id)));
  const apiKey = await post(api, traveler.token, '/v1/me/api-keys', { name: 'fixture' });
  const [webhookEndpoint, webhookEndpointToDelete] = await Promise.all(
    ['/hook', '/hook-to-delete'].map((path) => post(api, traveler.token, '/v1/webhooks/endpoints', { url: `http://127.0.0.1:9${path}` })),
  );
  return {
    request,
    requestToCancel,
    offer,
    offerToPause,
    offerToResume,
    offerToClose,
    trade,
    tradeToFund,
    tradeToCancel,
    tradeForPayout,
    tradeToConfirm,
    tradeToDispute,
    dispute: disputeId,
    disputeToResolve,
    apiKey,
    webhookEndpoint,
    webhookEndpointToDelete,
  };
}

/**
 * The actors of the matrix. `trav` and `cp` own the main world; `trav2` and `cp2` are others of the same
 * roles; `travKey` is `trav` signed in by API key; `sTrav` and `sCp` were suspended by an operator after
 * making a world of their own (trades with each other in every state), which their columns act on;
 * `sNon` is `sTrav` acting on the main world's resources (a suspended non-owner).
 */
export async function buildActors(test: TestApp, api: Api): Promise<Actors> {
  const operator = await createOperator(test, api);
  const [trav, trav2, sTrav, target] = await Promise.all(['trav', 'trav2', 'strav', 'target'].map((label) => readyTraveler(api, label)));
  const [cp, cp2, sCp] = await Promise.all(['cp', 'cp2', 'scp'].map((label) => readyCounterparty(api, label)));
  const [mainOwn, suspendedOwn] = await Promise.all([
    buildWorld(api, operator, trav, cp, true),
    buildWorld(api, operator, sTrav, sCp, false),
  ]);
  const key = await api('POST', '/v1/me/api-keys', { token: trav.token, body: { name: 'actor' } });
  if (key.status !== 201) throw new Error(`key: ${key.text}`);
  for (const user of [sTrav, sCp]) {
    const suspended = await api('POST', `/v1/admin/users/${user.id}/suspend`, { token: operator.token });
    if (suspended.status !== 200 || suspended.body.suspended !== true) throw new Error(`suspend: ${suspended.text}`);
  }

  const main: World = { user: trav.id, target: target.id, ...mainOwn };
  // Rows whose suspended cells are refused before any lookup (operators' rows) keep the main world's ids.
  const suspended: World = { ...main, ...suspendedOwn, disputeToResolve: main.disputeToResolve };
  const actor = (name: ActorName, user: TestUser | undefined, world: World, extra: Partial<Actor> = {}): Actor => ({
    name,
    id: user?.id,
    token: user?.token,
    email: (user ?? trav2).email,
    password: (user ?? trav2).password,
    world,
    ...extra,
  });
  return {
    anon: actor('anon', undefined, main),
    trav: actor('trav', trav, main),
    travKey: actor('travKey', trav, main, { token: undefined, apiKey: key.body.key }),
    trav2: actor('trav2', trav2, main),
    cp: actor('cp', cp, main),
    cp2: actor('cp2', cp2, main),
    oper: actor('oper', operator, main),
    sTrav: actor('sTrav', sTrav, suspended),
    sCp: actor('sCp', sCp, suspended),
    sNon: actor('sNon', sTrav, main),
  };
}
