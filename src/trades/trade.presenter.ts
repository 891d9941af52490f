import { formatAmount, formatRate } from '../common/money';
import type { DeadlinesView, TradeEventView, TradeView } from './dto/trades.dto';
import type { Trade, TradeEvent } from './trade.types';

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
