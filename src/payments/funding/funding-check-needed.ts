import type { TradeState } from '../../trades/trade.state-machine';

/** PayPal events about an order that no check acts on once its trade has ended unfunded. */
const NOTHING_FOR_AN_ENDED_TRADE = new Set(['CHECKOUT.ORDER.APPROVED', 'PAYMENT.AUTHORIZATION.VOIDED']);

/**
 * Whether a funding check could change anything after a PayPal event about the order of a trade read in `state`.
 * `FundingService.check` acts on a trade awaiting funding (authorizes, funds, cancels a self-trade) and on one that
 * ended unfunded (voids a late authorization); every other state finds nothing to do, and a trade never goes back
 * to those states, so a read that is stale by the time the event is stored decides the same. An ended trade's
 * order approved is never authorized by a check, and a void is what the check would do: only an event that may
 * bring an authorization (or one not known here) is checked for it.
 */
export function fundingCheckNeeded(state: TradeState, eventType: string): boolean {
  if (state === 'awaiting_funding') return true;
  if (state === 'cancelled' || state === 'expired') return !NOTHING_FOR_AN_ENDED_TRADE.has(eventType);
  return false;
}
