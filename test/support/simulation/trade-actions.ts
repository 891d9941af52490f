import { randomBytes } from 'node:crypto';
import { isSettling, pickTrade, type Model, type Sim, type SimTrade } from './model';
import { call, openTrade, OpenTradeParams, settleBriefly, sleep } from './world';

/**
 * What the parties and operators do, one small function per action. Each returns a short outcome for the
 * printed sequence; a refusal (409 after the service moved the trade on) is an outcome, not a failure.
 */

const cents = (amount: string) => BigInt(amount.replace('.', ''));
const decimal = (value: bigint) => `${value / 100n}.${(value % 100n).toString().padStart(2, '0')}`;
const outcome = (response: { status: number; body?: { state?: string; code?: string } }) =>
  `${response.status}${response.body?.code ? ` ${response.body.code}` : response.body?.state ? ` ${response.body.state}` : ''}`;

export interface OpenParams extends OpenTradeParams {
  startFunding: boolean;
}

export async function open(sim: Sim, model: Model, params: OpenParams): Promise<string> {
  const trade = await openTrade(sim, model, params);
  if (!trade) return 'not opened';
  if (params.startFunding) await startFunding(sim, trade);
  return `trade #${trade.n} ${trade.method}${(trade.orderId ?? trade.reference) ? ' (funding started)' : ''}`;
}

async function startFunding(sim: Sim, trade: SimTrade): Promise<string> {
  const funding = await call(sim, 'POST', `/v1/trades/${trade.id}/funding`, { token: trade.traveler.token, body: {} });
  if (funding.status === 200 || funding.status === 201) {
    trade.orderId = funding.body.orderId;
    trade.reference = funding.body.reference;
  }
  return outcome(funding);
}

export type FundKind = 'exact' | 'under' | 'over';

/**
 * The traveler pays: approves the PayPal order, or sends a bank transfer (exact, short or over). A late payment
 * goes to a trade that ended (expired, cancelled) or was already funded, through the order or reference it had.
 */
export async function fund(sim: Sim, model: Model, params: { pick: number; kind: FundKind; late: boolean }): Promise<string> {
  const trade = pickTrade(model, params.pick, params.late ? payableLate : (t) => t.state === 'awaiting_funding');
  if (!trade) return 'no trade';
  const started = trade.orderId || trade.reference ? 'funding' : await startFunding(sim, trade);
  const late = trade.state === 'awaiting_funding' ? '' : ` (late: ${trade.state})`;
  if (trade.orderId) {
    const approved = await sim.api('POST', `/sandbox/paypal/orders/${trade.orderId}/approve`, { body: { payerEmail: trade.payerEmail } });
    await settleBriefly(sim, trade, 'awaiting_funding', 1500);
    return `#${trade.n} approve ${approved.status}${late}`;
  }
  if (!trade.reference) return `#${trade.n} funding ${started}`;
  const amount = cents(trade.amountUsd) + (params.kind === 'under' ? -1n : params.kind === 'over' ? 500n : 0n);
  const sent = await sim.api('POST', '/sandbox/bank/incoming', {
    body: { reference: trade.reference, amountUsd: decimal(amount), senderAccount: trade.senderAccount },
  });
  await settleBriefly(sim, trade, 'awaiting_funding', 1500);
  return `#${trade.n} bank ${params.kind} ${decimal(amount)} ${sent.status}${late}`;
}

export const payableLate = (t: SimTrade) => t.state !== 'awaiting_funding' && Boolean(t.orderId || t.reference);

/** Someone sends money with a reference no trade has: all of it to suspense, and back. */
export async function payUnknownReference(sim: Sim, _model: Model, params: { amountUsd: string }): Promise<string> {
  const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const reference = `YB-${[...randomBytes(10)].map((b) => crockford[b % 32]).join('')}`;
  const sent = await sim.api('POST', '/sandbox/bank/incoming', {
    body: { reference, amountUsd: params.amountUsd, senderAccount: `SIM-STRANGER-${randomBytes(3).toString('hex')}` },
  });
  return `${reference} ${params.amountUsd} ${sent.status}`;
}

export type RmbKind = 'right' | 'wrong_amount' | 'never_sent' | 'unreported' | 'reused';

/** The counterparty sends the RMB at the WeChat mock (or not) and reports a transfer id (or not). */
export async function sendRmb(sim: Sim, model: Model, params: { pick: number; kind: RmbKind }): Promise<string> {
  const trade = pickTrade(model, params.pick, (t) => t.state === 'funded');
  if (!trade) return 'no trade';
  let transferId: string | undefined;
  if (params.kind === 'never_sent') transferId = `1000020260101${randomBytes(6).readUIntBE(0, 6)}`;
  if (params.kind === 'reused') transferId = model.trades.find((t) => t !== trade && t.claimedTransferId)?.claimedTransferId;
  if (params.kind === 'right' || params.kind === 'wrong_amount' || params.kind === 'unreported') {
    const amount = cents(trade.amountCny) - (params.kind === 'wrong_amount' ? 1n : 0n);
    const sent = await sim.api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: trade.counterpartyWallet, toWechatId: trade.travelerWallet, amountCny: decimal(amount) },
    });
    if (sent.status !== 201) return `#${trade.n} wechat transfer ${sent.status}`;
    transferId = trade.wechatTransferId = sent.body.transferId;
  }
  if (!transferId) return `#${trade.n} nothing to reuse`;
  if (params.kind === 'unreported') return `#${trade.n} sent, not reported`;
  const reported = await call(sim, 'POST', `/v1/trades/${trade.id}/payout`, {
    token: trade.counterparty.token,
    body: { wechatTransferId: transferId },
  });
  if (reported.status === 200) trade.claimedTransferId = transferId;
  if (reported.status === 200 && (params.kind === 'never_sent' || params.kind === 'wrong_amount')) trade.reportedBadTransfer = true;
  if (params.kind === 'reused' && reported.status !== 409) {
    sim.serverErrors.push(`a transfer another trade claimed was accepted for trade ${trade.id}: ${reported.status}`);
  }
  return `#${trade.n} ${params.kind} ${outcome(reported)}`;
}

/** Sends a party's call once, or twice at once (a double click): the second must find the first's state. */
async function partyCall(sim: Sim, path: string, token: string, twice: boolean, body?: unknown): Promise<string> {
  const send = () => call(sim, 'POST', path, { token, body });
  const answers = twice ? await Promise.all([send(), send()]) : [await send()];
  // Without an Idempotency-Key the second of two identical transitions finds the first one's state.
  if (answers.length === 2 && answers.every((a) => a.status < 300)) sim.serverErrors.push(`both of two concurrent ${path} succeeded`);
  return answers.map(outcome).join(' & ');
}

export async function confirmReceipt(sim: Sim, model: Model, params: { pick: number; twice: boolean }): Promise<string> {
  const trade = pickTrade(model, params.pick, (t) => t.state === 'funded' || t.state === 'payout_sent');
  if (!trade) return 'no trade';
  const answers = await partyCall(sim, `/v1/trades/${trade.id}/confirm-receipt`, trade.traveler.token, params.twice);
  if (answers.includes('200')) trade.confirmedByTraveler = true;
  return `#${trade.n} ${answers}`;
}

export async function cancel(sim: Sim, model: Model, params: { pick: number; by: 'traveler' | 'counterparty'; twice: boolean }) {
  const trade = pickTrade(model, params.pick, (t) => t.state === 'awaiting_funding');
  if (!trade) return 'no trade';
  return `#${trade.n} ${await partyCall(sim, `/v1/trades/${trade.id}/cancel`, trade[params.by].token, params.twice)}`;
}

export async function dispute(sim: Sim, model: Model, params: { pick: number; by: 'traveler' | 'counterparty' }): Promise<string> {
  const trade = pickTrade(model, params.pick, (t) => t.state === 'funded' || t.state === 'payout_sent');
  if (!trade) return 'no trade';
  const reason = params.by === 'traveler' ? 'rmb_not_received' : 'payment_not_released';
  const body = { reason, statement: 'Opened by the simulation.' };
  return `#${trade.n} ${await partyCall(sim, `/v1/trades/${trade.id}/disputes`, trade[params.by].token, false, body)}`;
}

export type Resolution = { outcome: 'release' } | { outcome: 'refund' } | { outcome: 'split'; travelerTenths: number };

/** An operator resolves the trade's dispute; a split gives the traveler some tenths of the USD, the rest to the counterparty. */
export async function resolve(sim: Sim, model: Model, params: { pick: number; resolution: Resolution }): Promise<string> {
  const trade = pickTrade(model, params.pick, (t) => t.state === 'disputed');
  if (!trade) return 'no trade';
  const view = await call(sim, 'GET', `/v1/trades/${trade.id}`, { token: sim.operator.token });
  if (!view.body.disputeId) return `#${trade.n} no dispute (${view.body.state})`;
  const body: Record<string, string> = { outcome: params.resolution.outcome, note: 'Resolved by the simulation.' };
  if (params.resolution.outcome === 'split') {
    const total = cents(trade.amountUsd);
    const travelerPart = (total * BigInt(params.resolution.travelerTenths)) / 10n;
    Object.assign(body, { travelerUsd: decimal(travelerPart), counterpartyUsd: decimal(total - travelerPart) });
  }
  const resolved = await call(sim, 'POST', `/v1/admin/disputes/${view.body.disputeId}/resolve`, { token: sim.operator.token, body });
  return `#${trade.n} ${params.resolution.outcome} ${resolved.status}${resolved.body?.code ? ` ${resolved.body.code}` : ''}`;
}

/** An operator starts a settlement again (a trade flagged, or one still settling: the service decides). */
export async function retrySettlement(sim: Sim, model: Model, params: { pick: number }): Promise<string> {
  const trade = pickTrade(model, params.pick, (t) => t.settlementFailing || isSettling(t.state));
  if (!trade) return 'no trade';
  const retried = await call(sim, 'POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: sim.operator.token });
  return `#${trade.n} ${outcome(retried)}`;
}

/** The traveler's bank account closes: a refund or suspense return to it settles, then bounces. */
export async function closeAccount(sim: Sim, model: Model, params: { pick: number }): Promise<string> {
  const trade = pickTrade(model, params.pick, (t) => t.method === 'bank_transfer' && !sim.closedAccounts.has(t.senderAccount));
  if (!trade) return 'no trade';
  const closed = await sim.api('PUT', `/sandbox/bank/accounts/${trade.senderAccount}`, { body: { closed: true } });
  if (closed.status === 200) sim.closedAccounts.add(trade.senderAccount);
  return `#${trade.n} ${closed.status}`;
}

/** Time passes: deadlines run out, payouts settle, watches poll. */
export async function wait(_sim: Sim, _model: Model, params: { ms: number }): Promise<string> {
  await sleep(params.ms);
  return `${params.ms} ms`;
}
