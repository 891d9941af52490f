import { DomainError } from '../common/errors';
import { formatAmount } from '../common/money';
import type { SourceAsDecided } from '../market/market.repository';
import type { ExchangeRequest, Offer, PaymentMethod } from '../market/market.types';
import { requestStatus } from '../market/market.types';
import type { Price } from '../market/pricing';

export interface TradeTerms {
  /** Read before the transaction: a stale one refuses the trade before anything is locked. */
  reference: bigint;
  source: { kind: 'request'; id: string } | { kind: 'offer'; id: string };
  travelerId: string;
  counterpartyId: string;
  makerId: string;
  callerId: string;
  amountCny: bigint;
  price: Price;
  paymentMethod: PaymentMethod;
  /** What of the source the terms rest on, for a reservation that must find it still so (`reserveSql`). */
  decidedOn: SourceAsDecided;
}

/**
 * A counterparty's accept of a request as read (under its lock, or without one to decide a trade opened at once):
 * its terms, or the refusal the request's state and the amount call for, in API.md's order.
 */
export function requestTerms(request: ExchangeRequest | null, asked: bigint | undefined, callerId: string, reference: bigint): TradeTerms {
  if (!request) throw DomainError.notFound('Request');
  if (request.maker.suspended) throw new DomainError('maker_suspended', "The request's traveler is suspended");
  const status = requestStatus(request);
  if (status === 'filled') throw new DomainError('insufficient_amount', 'Nothing of this request remains open');
  if (status !== 'open') throw new DomainError('invalid_state_transition', `The request is ${status}`, { state: status });
  const amountCny = asked ?? request.remainingCny;
  if (amountCny > request.remainingCny) {
    throw new DomainError('insufficient_amount', `Only ${formatAmount(request.remainingCny, 'CNY')} CNY of this request remains open`);
  }
  if (amountCny < request.minFillCny && amountCny !== request.remainingCny) {
    throw new DomainError('below_min_fill', `Accept at least ${formatAmount(request.minFillCny, 'CNY')} CNY, or all that remains`);
  }
  return {
    reference,
    source: { kind: 'request', id: request.id },
    travelerId: request.travelerId,
    counterpartyId: callerId,
    makerId: request.travelerId,
    callerId,
    amountCny,
    price: request.price,
    paymentMethod: request.paymentMethod,
    decidedOn: {
      kind: 'request',
      makerId: request.travelerId,
      price: request.price,
      paymentMethod: request.paymentMethod,
      wholeRemainder: asked === undefined,
    },
  };
}

/** A traveler's take of an offer as read: its terms, or the refusal, 400s before 409s as API.md orders errors. */
export function offerTerms(
  offer: Offer | null,
  paymentMethod: PaymentMethod,
  amountCny: bigint,
  callerId: string,
  reference: bigint,
): TradeTerms {
  if (!offer) throw DomainError.notFound('Offer');
  if (!offer.paymentMethods.includes(paymentMethod)) {
    throw DomainError.validation([
      { field: 'paymentMethod', code: 'not_allowed', message: `This offer accepts ${offer.paymentMethods.join(' or ')}` },
    ]);
  }
  if (amountCny < offer.minCny || amountCny > offer.maxCny) {
    throw new DomainError(
      'amount_out_of_range',
      `Take between ${formatAmount(offer.minCny, 'CNY')} and ${formatAmount(offer.maxCny, 'CNY')} CNY`,
    );
  }
  if (offer.maker.suspended) throw new DomainError('maker_suspended', "The offer's counterparty is suspended");
  if (offer.status === 'exhausted') throw new DomainError('insufficient_amount', 'Too little of this offer remains available');
  if (offer.status !== 'active') throw new DomainError('invalid_state_transition', `The offer is ${offer.status}`, { state: offer.status });
  if (amountCny > offer.availableCny) {
    throw new DomainError('insufficient_amount', `Only ${formatAmount(offer.availableCny, 'CNY')} CNY of this offer is available`);
  }
  return {
    reference,
    source: { kind: 'offer', id: offer.id },
    travelerId: callerId,
    counterpartyId: offer.counterpartyId,
    makerId: offer.counterpartyId,
    callerId,
    amountCny,
    price: offer.price,
    paymentMethod,
    decidedOn: { kind: 'offer', makerId: offer.counterpartyId, price: offer.price, paymentMethod },
  };
}
