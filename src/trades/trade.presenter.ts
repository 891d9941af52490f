import { formatAmount, formatRate, netOfFee, splitFee } from '../common/money';
import type { DeadlinesView, TradeEventView, TradeView } from './dto/trades.dto';
import type { TradeState } from './trade.state-machine';
import type { Trade, TradeEvent } from './trade.types';

/** States in which the USD goes back to the traveler, or never came: the counterparty receives nothing. */
const NOTHING_TO_COUNTERPARTY: ReadonlySet<TradeState> = new Set(['refunding', 'refunded', 'cancelled', 'expired']);

/**
 * `netUsd`, what the counterparty receives (API.md: amountUsd − feeUsd). A split pays them their part less the same
 * basis points of it (what settlement pays, and the fee `settled_split` records); a refunded, cancelled or expired
 * trade pays them nothing. While a trade is live, it is what a release would pay.
 */
export function counterpartyNetUsd(trade: Trade): bigint {
  if (NOTHING_TO_COUNTERPARTY.has(trade.state)) return 0n;
  if (trade.splitCounterpartyUsd !== null) return splitFee(trade.splitCounterpartyUsd, trade.feeBps).net;
  return netOfFee(trade.amountUsd, trade.feeUsd);
}

export function presentTrade(trade: Trade, travelerWechatId?: string): TradeView {
  const deadlines: DeadlinesView = {};
  if (trade.fundingBy) deadlines.fundingBy = trade.fundingBy.toISOString();
  if (trade.payoutBy) deadlines.payoutBy = trade.payoutBy.toISOString();
  if (trade.verifyBy) deadlines.verifyBy = trade.verifyBy.toISOString();
  const view: TradeView = {
    id: trade.id,
    state: trade.state,
    requestId: trade.requestId,
    offerId: trade.offerId,
    travelerId: trade.travelerId,
    counterpartyId: trade.counterpartyId,
    amountCny: formatAmount(trade.amountCny, 'CNY'),
    amountUsd: formatAmount(trade.amountUsd, 'USD'),
    rate: formatRate(trade.rate),
    feeUsd: formatAmount(trade.feeUsd, 'USD'),
    netUsd: formatAmount(counterpartyNetUsd(trade), 'USD'),
    paymentMethod: trade.paymentMethod,
    deadlines,
    disputeId: trade.disputeId,
    settlementFailing: trade.settlementFailing,
    createdAt: trade.createdAt.toISOString(),
    updatedAt: trade.updatedAt.toISOString(),
  };
  if (travelerWechatId !== undefined) view.travelerWechatId = travelerWechatId;
  return view;
}

export function presentEvent(event: TradeEvent): TradeEventView {
  return {
    at: event.at.toISOString(),
    actor: event.actor,
    type: event.type,
    fromState: event.fromState,
    toState: event.toState,
    detail: event.detail,
  };
}
