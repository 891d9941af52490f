import { toReputation } from '../users/reputation';
import type { ExchangeRequest, Maker, Offer, OfferStatus, PaymentMethod, RequestStatus } from './market.types';
import type { Price } from './pricing';

/**
 * How a request or an offer is read from its table, with its maker: the columns, the row types and their mapping.
 * The market's repository reads them, and so does the account's own read model (its export).
 */
export interface MakerColumns {
  maker_name: string;
  maker_suspended: boolean;
  completed_trades: number | null;
  failed_trades: number;
  disputes_lost: number;
  rating_sum: number;
  rating_count: number;
  recent_release_minutes: number[];
}

export interface PriceColumns {
  price_type: 'fixed' | 'floating';
  fixed_rate: string | null;
  premium_bps: number | null;
}

export type RequestRow = MakerColumns &
  PriceColumns & {
    id: string;
    traveler_id: string;
    amount_cny: string;
    remaining_cny: string;
    min_fill_cny: string;
    payment_method: PaymentMethod;
    status: RequestStatus;
    expires_at: Date;
    created_at: Date;
    updated_at: Date;
  };

export type OfferRow = MakerColumns &
  PriceColumns & {
    id: string;
    counterparty_id: string;
    min_cny: string;
    max_cny: string;
    total_cny: string;
    available_cny: string;
    payment_methods: PaymentMethod[];
    status: OfferStatus;
    created_at: Date;
    updated_at: Date;
  };

const MAKER_COLUMNS = `u.display_name AS maker_name, u.suspended_at IS NOT NULL AS maker_suspended,
  rep.completed_trades, rep.failed_trades, rep.disputes_lost, rep.rating_sum, rep.rating_count, rep.recent_release_minutes`;

export const REQUEST_COLUMNS = `r.id, r.traveler_id, r.amount_cny, r.remaining_cny, r.min_fill_cny, r.price_type, r.fixed_rate, r.premium_bps,
  r.payment_method, r.status, r.expires_at, r.created_at, r.updated_at, ${MAKER_COLUMNS}`;

export const REQUEST_SELECT = `SELECT ${REQUEST_COLUMNS}
  FROM exchange_requests r JOIN users u ON u.id = r.traveler_id LEFT JOIN user_reputation rep ON rep.user_id = r.traveler_id`;

export const OFFER_COLUMNS = `o.id, o.counterparty_id, o.min_cny, o.max_cny, o.total_cny, o.available_cny, o.price_type, o.fixed_rate,
  o.premium_bps, o.payment_methods, o.status, o.created_at, o.updated_at, ${MAKER_COLUMNS}`;

export const OFFER_SELECT = `SELECT ${OFFER_COLUMNS}
  FROM offers o JOIN users u ON u.id = o.counterparty_id LEFT JOIN user_reputation rep ON rep.user_id = o.counterparty_id`;

/**
 * The maker and reputation of each of a page's few rows, read by primary key. OFFSET 0 keeps the planner from
 * flattening the lookups into a join, which it would answer by hashing every user (a page slowing as users grow).
 */
export function makerLookups(makerId: string): string {
  return `CROSS JOIN LATERAL (SELECT display_name, suspended_at FROM users WHERE id = ${makerId} OFFSET 0) u
    LEFT JOIN LATERAL (SELECT * FROM user_reputation WHERE user_id = ${makerId} OFFSET 0) rep ON true`;
}

function toMaker(id: string, row: MakerColumns): Maker {
  return {
    id,
    displayName: row.maker_name,
    suspended: row.maker_suspended,
    reputation: toReputation(
      row.completed_trades === null
        ? undefined
        : {
            completedTrades: row.completed_trades,
            failedTrades: row.failed_trades,
            disputesLost: row.disputes_lost,
            ratingSum: row.rating_sum,
            ratingCount: row.rating_count,
            recentReleaseMinutes: row.recent_release_minutes,
          },
    ),
  };
}

function toPrice(row: PriceColumns): Price {
  return row.price_type === 'fixed' ? { type: 'fixed', rate: BigInt(row.fixed_rate!) } : { type: 'floating', premiumBps: row.premium_bps! };
}

export function toRequest(row: RequestRow): ExchangeRequest {
  return {
    id: row.id,
    travelerId: row.traveler_id,
    amountCny: BigInt(row.amount_cny),
    remainingCny: BigInt(row.remaining_cny),
    minFillCny: BigInt(row.min_fill_cny),
    price: toPrice(row),
    paymentMethod: row.payment_method,
    status: row.status,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    maker: toMaker(row.traveler_id, row),
  };
}

export function toOffer(row: OfferRow): Offer {
  return {
    id: row.id,
    counterpartyId: row.counterparty_id,
    minCny: BigInt(row.min_cny),
    maxCny: BigInt(row.max_cny),
    totalCny: BigInt(row.total_cny),
    availableCny: BigInt(row.available_cny),
    price: toPrice(row),
    paymentMethods: row.payment_methods,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    maker: toMaker(row.counterparty_id, row),
  };
}
