import { formatAmount, formatRate } from '../common/money';
import type { MakerView, OfferView, PriceView, RequestView } from './dto/market.dto';
import type { ExchangeRequest, Maker, Offer } from './market.types';
import { requestStatus } from './market.types';
import { effectiveRate, Price } from './pricing';

function presentPrice(price: Price): PriceView {
  return price.type === 'fixed' ? { type: 'fixed', rate: formatRate(price.rate) } : { type: 'floating', premiumBps: price.premiumBps };
}

function presentMaker(maker: Maker): MakerView {
  return { id: maker.id, displayName: maker.displayName, reputation: maker.reputation };
}

/** The effective rate at the given reference; a floating price has none before the first reference. */
function presentEffectiveRate(price: Price, reference: bigint | null): string | null {
  if (price.type === 'fixed') return formatRate(price.rate);
  return reference === null ? null : formatRate(effectiveRate(price, reference));
}

export function presentRequest(request: ExchangeRequest, reference: bigint | null): RequestView {
  return {
    id: request.id,
    travelerId: request.travelerId,
    amountCny: formatAmount(request.amountCny, 'CNY'),
    remainingCny: formatAmount(request.remainingCny, 'CNY'),
    minFillCny: formatAmount(request.minFillCny, 'CNY'),
    price: presentPrice(request.price),
    effectiveRate: presentEffectiveRate(request.price, reference),
    paymentMethod: request.paymentMethod,
    status: requestStatus(request),
    expiresAt: request.expiresAt.toISOString(),
    createdAt: request.createdAt.toISOString(),
    updatedAt: request.updatedAt.toISOString(),
    maker: presentMaker(request.maker),
  };
}

export function presentOffer(offer: Offer, reference: bigint | null): OfferView {
  return {
    id: offer.id,
    counterpartyId: offer.counterpartyId,
    minCny: formatAmount(offer.minCny, 'CNY'),
    maxCny: formatAmount(offer.maxCny, 'CNY'),
    totalCny: formatAmount(offer.totalCny, 'CNY'),
    availableCny: formatAmount(offer.availableCny, 'CNY'),
    price: presentPrice(offer.price),
    effectiveRate: presentEffectiveRate(offer.price, reference),
    paymentMethods: offer.paymentMethods,
    status: offer.status,
    createdAt: offer.createdAt.toISOString(),
    updatedAt: offer.updatedAt.toISOString(),
    maker: presentMaker(offer.maker),
  };
}
