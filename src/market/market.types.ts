import type { Reputation } from '../users/reputation';
import type { Price } from './pricing';

export const PAYMENT_METHODS = ['paypal', 'bank_transfer'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export const REQUEST_STATUSES = ['open', 'filled', 'cancelled', 'expired'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const OFFER_STATUSES = ['active', 'paused', 'closed', 'exhausted'] as const;
export type OfferStatus = (typeof OFFER_STATUSES)[number];

export interface Maker {
  id: string;
  displayName: string;
  suspended: boolean;
  reputation: Reputation;
}

export interface ExchangeRequest {
  id: string;
  travelerId: string;
  amountCny: bigint;
  remainingCny: bigint;
  minFillCny: bigint;
  price: Price;
  paymentMethod: PaymentMethod;
  /** As stored; an open request past its expiry reads as expired (see `requestStatus`). */
  status: RequestStatus;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
  maker: Maker;
}

export interface Offer {
  id: string;
  counterpartyId: string;
  minCny: bigint;
  maxCny: bigint;
  totalCny: bigint;
  availableCny: bigint;
  price: Price;
  paymentMethods: PaymentMethod[];
  status: OfferStatus;
  createdAt: Date;
  updatedAt: Date;
  maker: Maker;
}

/** Listings never show an expired request as open, whatever the expiry job did. */
export function requestStatus(request: Pick<ExchangeRequest, 'status' | 'expiresAt'>, now = new Date()): RequestStatus {
  return (request.status === 'open' || request.status === 'filled') && request.expiresAt <= now ? 'expired' : request.status;
}
