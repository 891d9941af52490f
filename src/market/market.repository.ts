import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedInTransaction, preparedQuery, preparedRead, returningRows, SqlParams } from '../common/database/query';
import { FIXED, FLOATING, ListingPlan, PriceKind, StreamPlan } from './listing-order';
import {
  makerLookups,
  OFFER_COLUMNS,
  OFFER_SELECT,
  OfferRow,
  REQUEST_COLUMNS,
  REQUEST_SELECT,
  RequestRow,
  toOffer,
  toRequest,
} from './market-rows';
import type { ExchangeRequest, Offer, OfferStatus, PaymentMethod, RequestStatus } from './market.types';
import type { Price } from './pricing';
import type { NearingCursor } from '../queues/sweep-horizon';

/** A request's status as a condition: an open or filled request past its expiry counts as expired. */
function requestStatusCondition(status: RequestStatus): string {
  switch (status) {
    case 'open':
      return `(r.status = 'open' AND r.expires_at > now())`;
    case 'filled':
      return `(r.status = 'filled' AND r.expires_at > now())`;
    case 'expired':
      return `(r.status = 'expired' OR (r.status IN ('open', 'filled') AND r.expires_at <= now()))`;
    case 'cancelled':
      return `(r.status = 'cancelled')`;
  }
}

/**
 * Index-range conditions of one kind's stream (see listing-order.ts). A position is a row value, so the
 * index seeks straight to it: `(rate, id) < (…)` reading backwards, `>` reading forwards.
 */
function streamConditions(params: SqlParams, column: string, idColumn: string, direction: 'asc' | 'desc', plan: StreamPlan): string[] {
  const conditions: string[] = [];
  if (plan.min !== undefined) conditions.push(`${column} >= ${params.add(plan.min)}`);
  if (plan.max !== undefined) conditions.push(`${column} <= ${params.add(plan.max)}`);
  if (plan.after) {
    const op = direction === 'desc' ? '<' : '>';
    const key = params.add(plan.after.key);
    conditions.push(
      plan.after.id === undefined
        ? `${column} ${op} ${key}`
        : `(${column}, ${idColumn}) ${op} (${key}, ${params.add(plan.after.id)}::uuid)`,
    );
  }
  return conditions;
}

/** A price as its columns: price_type, fixed_rate, premium_bps. */
function priceColumns(price: Price): [string, string | null, number | null] {
  return [price.type, price.type === 'fixed' ? price.rate.toString() : null, price.type === 'floating' ? price.premiumBps : null];
}

/**
 * A listing page: each kind's stream picked from the table alone in its index order (so LIMIT stops each scan
 * early), the two merged by the listing order (listing-order.ts) at the page's reference and cut to `limit`,
 * and only then decorated with the maker and reputation, by primary key. A page reads at most 2 × `limit` index
 * entries and returns `limit` rows. The merge repeats `compareListings` and `floatingRate` (round half up) in
 * SQL; the service sorts the rows again with them, so the order of the rows returned is the code's, not this one's.
 *
 * The limit is written into the text (a checked integer, one statement per page size): as a parameter, the
 * planner's generic plan would guess a tenth of the table and never beat a custom one, so the statement was
 * planned again on every call; with it in the text, the prepared statement keeps one generic plan.
 */
function listingQuery(
  params: SqlParams,
  columns: string,
  makerId: string,
  table: string,
  alias: string,
  common: string[],
  page: ListingPage,
): string {
  const a = alias;
  const { direction } = page.plan;
  const dir = direction === 'desc' ? 'DESC' : 'ASC';
  if (!Number.isSafeInteger(page.limit) || page.limit < 1) throw new Error('A listing page size must be a positive integer');
  const limit = String(page.limit);
  const reference = params.add(page.reference);
  const streams = {
    fixed: [...common, `${a}.price_type = 'fixed'`, ...streamConditions(params, `${a}.fixed_rate`, `${a}.id`, direction, page.plan.fixed)],
    floating: [
      ...common,
      `${a}.price_type = 'floating'`,
      ...streamConditions(params, `${a}.premium_bps`, `${a}.id`, direction, page.plan.floating),
    ],
  };
  const stream = (conditions: string[], kind: PriceKind, rate: string, premium: string, key: string) =>
    `(SELECT ${a}.*, ${kind} AS kind, ${rate} AS listing_rate, ${premium} AS listing_premium FROM ${table} ${a}
       WHERE ${conditions.join(' AND ')} ORDER BY ${key} ${dir}, ${a}.id ${dir} LIMIT ${limit})`;
  const picked = `(SELECT * FROM (
       ${stream(streams.fixed, FIXED, `${a}.fixed_rate`, '0', `${a}.fixed_rate`)}
       UNION ALL
       ${stream(streams.floating, FLOATING, `(${reference}::bigint * (10000 + ${a}.premium_bps) + 5000) / 10000`, `${a}.premium_bps`, `${a}.premium_bps`)}
     ) merged ORDER BY listing_rate ${dir}, kind, listing_premium ${dir}, id ${dir} LIMIT ${limit}) ${a}`;
  return `SELECT ${a}.kind, ${columns} FROM ${picked} ${makerLookups(makerId)}`;
}

interface ListingPage {
  /** Listings for others leave out suspended makers. */
  hideSuspendedMakers: boolean;
  paymentMethod?: PaymentMethod;
  plan: ListingPlan;
  /** The reference the page is ranked at (floating prices' effective rates). */
  reference: bigint;
  limit: number;
}

export interface RequestListQuery extends ListingPage {
  statuses: RequestStatus[];
  travelerId?: string;
  minCny?: bigint;
  maxCny?: bigint;
}

export interface OfferListQuery extends ListingPage {
  statuses: OfferStatus[];
  counterpartyId?: string;
  amountCny?: bigint;
}

export interface Ranked<T> {
  item: T;
  kind: PriceKind;
}

export interface NewRequest {
  travelerId: string;
  amountCny: bigint;
  minFillCny: bigint;
  price: Price;
  paymentMethod: PaymentMethod;
  /** Counted from the database's clock, the one listings compare against. */
  expiresInMs: number;
}

export interface NewOffer {
  counterpartyId: string;
  minCny: bigint;
  maxCny: bigint;
  totalCny: bigint;
  price: Price;
  paymentMethods: PaymentMethod[];
}

/**
 * The UPDATE that takes `amountCny` from a request's remainder or an offer's availability, returning its id
 * only if it could: never below zero (the guard here and the tables' CHECKs both say so). A request with
 * nothing left becomes filled, an offer below its minimum exhausted. A CTE of the statement that opens a trade.
 */
export function reserveSql(
  source: { kind: 'request' | 'offer'; id: string },
  amountCny: bigint,
  params: SqlParams,
  expected?: SourceAsDecided,
): string {
  const id = params.add(source.id);
  const amount = params.add(amountCny);
  const checks = expected ? ` AND ${decidedConditions(expected, amount, params)}` : '';
  return source.kind === 'request'
    ? `UPDATE exchange_requests SET remaining_cny = remaining_cny - ${amount}::bigint,
              status = CASE WHEN remaining_cny - ${amount}::bigint = 0 THEN 'filled' ELSE status END, updated_at = now()
        WHERE id = ${id} AND status = 'open' AND remaining_cny >= ${amount}::bigint${checks} RETURNING id`
    : `UPDATE offers SET available_cny = available_cny - ${amount}::bigint,
              status = CASE WHEN available_cny - ${amount}::bigint < min_cny THEN 'exhausted' ELSE status END, updated_at = now()
        WHERE id = ${id} AND status = 'active' AND available_cny >= ${amount}::bigint${checks} RETURNING id`;
}

/**
 * What a trade was decided on, of its request or offer, read before its row was locked: a reservation given it
 * takes the amount only while all of it still holds (the row as its lock finds it), so that decision stands.
 */
export type SourceAsDecided =
  | { kind: 'request'; makerId: string; price: Price; paymentMethod: PaymentMethod; wholeRemainder: boolean }
  | { kind: 'offer'; makerId: string; price: Price; paymentMethod: PaymentMethod };

function decidedConditions(expected: SourceAsDecided, amount: string, params: SqlParams): string {
  const [type, rate, premium] = priceColumns(expected.price).map((value) => params.add(value));
  const price = `price_type = ${type} AND fixed_rate IS NOT DISTINCT FROM ${rate}::bigint AND premium_bps IS NOT DISTINCT FROM ${premium}::integer`;
  if (expected.kind === 'request') {
    // Open and not past its expiry; a part no smaller than the minimum fill, or what remains; all of it, if asked for all.
    const amountRule = expected.wholeRemainder
      ? `remaining_cny = ${amount}::bigint`
      : `(${amount}::bigint >= min_fill_cny OR ${amount}::bigint = remaining_cny)`;
    return `expires_at > now() AND ${amountRule} AND traveler_id = ${params.add(expected.makerId)}
            AND payment_method = ${params.add(expected.paymentMethod)} AND ${price}`;
  }
  return `${amount}::bigint BETWEEN min_cny AND max_cny AND ${params.add(expected.paymentMethod)} = ANY(payment_methods)
          AND counterparty_id = ${params.add(expected.makerId)} AND ${price}`;
}

/** Every query on exchange requests and offers. */
@Injectable()
export class MarketRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private m(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  async insertRequest(manager: EntityManager, request: NewRequest): Promise<string> {
    const rows = await preparedQuery<{ id: string }>(
      this.dataSource,
      manager,
      `INSERT INTO exchange_requests (traveler_id, amount_cny, remaining_cny, min_fill_cny, price_type, fixed_rate, premium_bps, payment_method, expires_at)
       VALUES ($1, $2, $2, $3, $4, $5, $6, $7, now() + $8 * interval '1 millisecond') RETURNING id`,
      [
        request.travelerId,
        request.amountCny.toString(),
        request.minFillCny.toString(),
        ...priceColumns(request.price),
        request.paymentMethod,
        request.expiresInMs,
      ],
    );
    return rows[0].id;
  }

  async insertOffer(manager: EntityManager, offer: NewOffer): Promise<string> {
    const rows = await manager.query(
      `INSERT INTO offers (counterparty_id, min_cny, max_cny, total_cny, available_cny, price_type, fixed_rate, premium_bps, payment_methods)
       VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8) RETURNING id`,
      [
        offer.counterpartyId,
        offer.minCny.toString(),
        offer.maxCny.toString(),
        offer.totalCny.toString(),
        ...priceColumns(offer.price),
        offer.paymentMethods,
      ],
    );
    return rows[0].id;
  }

  async findRequest(id: string, manager?: EntityManager): Promise<ExchangeRequest | null> {
    const rows = await preparedQuery<RequestRow>(this.dataSource, manager, `${REQUEST_SELECT} WHERE r.id = $1`, [id]);
    return rows.length === 0 ? null : toRequest(rows[0]);
  }

  async findOffer(id: string, manager?: EntityManager): Promise<Offer | null> {
    const rows = await preparedQuery<OfferRow>(this.dataSource, manager, `${OFFER_SELECT} WHERE o.id = $1`, [id]);
    return rows.length === 0 ? null : toOffer(rows[0]);
  }

  /**
   * One page of requests: each kind of price read in its index order up to `limit` rows, in one
   * statement; the caller merges the two streams by effective rate.
   */
  async listRequests(query: RequestListQuery): Promise<Ranked<ExchangeRequest>[]> {
    const params = new SqlParams();
    const common: string[] = [`(${query.statuses.map(requestStatusCondition).join(' OR ')})`];
    if (query.travelerId) common.push(`r.traveler_id = ${params.add(query.travelerId)}`);
    if (query.hideSuspendedMakers) common.push(`r.traveler_id NOT IN (SELECT id FROM users WHERE suspended_at IS NOT NULL)`);
    if (query.paymentMethod) common.push(`r.payment_method = ${params.add(query.paymentMethod)}`);
    if (query.minCny !== undefined) common.push(`r.remaining_cny >= ${params.add(query.minCny)}`);
    if (query.maxCny !== undefined) common.push(`r.remaining_cny <= ${params.add(query.maxCny)}`);
    const sql = listingQuery(params, REQUEST_COLUMNS, 'r.traveler_id', 'exchange_requests', 'r', common, query);
    const rows = await preparedRead<RequestRow & { kind: PriceKind }>(this.dataSource, sql, params.values);
    return rows.map((row) => ({ item: toRequest(row), kind: row.kind }));
  }

  async listOffers(query: OfferListQuery): Promise<Ranked<Offer>[]> {
    const params = new SqlParams();
    // The literal form lets the planner pick the partial index of active offers.
    const onlyActive = query.statuses.length === 1 && query.statuses[0] === 'active';
    const common: string[] = [onlyActive ? `o.status = 'active'` : `o.status = ANY(${params.add(query.statuses)}::text[])`];
    if (query.counterpartyId) common.push(`o.counterparty_id = ${params.add(query.counterpartyId)}`);
    if (query.hideSuspendedMakers) common.push(`o.counterparty_id NOT IN (SELECT id FROM users WHERE suspended_at IS NOT NULL)`);
    if (query.paymentMethod) common.push(`${params.add(query.paymentMethod)} = ANY(o.payment_methods)`);
    if (query.amountCny !== undefined) {
      const amount = params.add(query.amountCny);
      common.push(`o.min_cny <= ${amount} AND o.max_cny >= ${amount} AND o.available_cny >= ${amount}`);
    }
    const sql = listingQuery(params, OFFER_COLUMNS, 'o.counterparty_id', 'offers', 'o', common, query);
    const rows = await preparedRead<OfferRow & { kind: PriceKind }>(this.dataSource, sql, params.values);
    return rows.map((row) => ({ item: toOffer(row), kind: row.kind }));
  }

  /** Cancels the traveler's request if it is open or filled and not past its expiry; false otherwise. */
  async cancelRequest(manager: EntityManager, id: string, travelerId: string): Promise<boolean> {
    const rows = await returningRows(
      manager,
      `UPDATE exchange_requests SET status = 'cancelled', updated_at = now()
        WHERE id = $1 AND traveler_id = $2 AND status IN ('open', 'filled') AND expires_at > now() RETURNING id`,
      [id, travelerId],
    );
    return rows.length === 1;
  }

  /** Expires one request once its time has come; a second run finds nothing to do. */
  async expireRequest(manager: EntityManager, id: string): Promise<boolean> {
    const rows = await returningRows(
      manager,
      `UPDATE exchange_requests SET status = 'expired', updated_at = now()
        WHERE id = $1 AND status IN ('open', 'filled') AND expires_at <= now() RETURNING id`,
      [id],
    );
    return rows.length === 1;
  }

  /**
   * A page, soonest first after `after`, of the requests still to expire whose expiry falls within `horizonMs`, with
   * how long until it by PostgreSQL's clock: a range on `exchange_requests_expiry_idx`. The horizon is a double precision
   * interval: any length fits.
   */
  async nearingExpiry(
    horizonMs: number,
    after: NearingCursor,
    limit: number,
  ): Promise<{ requestId: string; dueInMs: number; next: NearingCursor }[]> {
    const rows: { id: string; due_in_ms: string; due: string }[] = await this.dataSource.query(
      `SELECT id, greatest(0, ceil(extract(epoch FROM expires_at - clock_timestamp()) * 1000))::bigint AS due_in_ms,
              expires_at::text AS due
         FROM exchange_requests
        WHERE status IN ('open', 'filled') AND expires_at > now() AND expires_at <= now() + $1::double precision * interval '1 millisecond'
          AND (expires_at, id) > ($2::timestamptz, $3::uuid)
        ORDER BY expires_at, id LIMIT $4`,
      [horizonMs, after.due, after.id, limit],
    );
    return rows.map((row) => ({ requestId: row.id, dueInMs: Number(row.due_in_ms), next: { due: row.due, id: row.id } }));
  }

  /** Expires up to `limit` overdue requests; SKIP LOCKED lets sweepers in several processes share the work. */
  async expireOverdue(manager: EntityManager, limit: number): Promise<string[]> {
    const rows = await returningRows<{ id: string }>(
      manager,
      `UPDATE exchange_requests SET status = 'expired', updated_at = now()
        WHERE id IN (SELECT id FROM exchange_requests WHERE status IN ('open', 'filled') AND expires_at <= now()
                      ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Moves the counterparty's offer from one of `from` to `to` in one conditional update; returns false
   * when it is not in such a state. `to` = 'active' lands on 'exhausted' when too little is available.
   */
  async setOfferStatus(manager: EntityManager, id: string, counterpartyId: string, from: OfferStatus[], to: OfferStatus): Promise<boolean> {
    const target = to === 'active' ? `CASE WHEN available_cny < min_cny THEN 'exhausted' ELSE 'active' END` : `'${to}'`;
    const rows = await returningRows(
      manager,
      `UPDATE offers SET status = ${target}, updated_at = now()
        WHERE id = $1 AND counterparty_id = $2 AND status = ANY($3::text[]) RETURNING id`,
      [id, counterpartyId, from],
    );
    return rows.length === 1;
  }

  /** Locks a request for a trade being made on it: accepts on one request run one at a time. */
  async lockRequest(manager: EntityManager, id: string): Promise<ExchangeRequest | null> {
    const rows = await preparedInTransaction<RequestRow>(manager, `${REQUEST_SELECT} WHERE r.id = $1 FOR UPDATE OF r`, [id]);
    return rows.length === 0 ? null : toRequest(rows[0]);
  }

  async lockOffer(manager: EntityManager, id: string): Promise<Offer | null> {
    const rows = await preparedInTransaction<OfferRow>(manager, `${OFFER_SELECT} WHERE o.id = $1 FOR UPDATE OF o`, [id]);
    return rows.length === 0 ? null : toOffer(rows[0]);
  }

  /** Gives an amount back; a filled request that has not expired, or an exhausted offer with enough again, reopens. */
  async returnToRequest(manager: EntityManager, id: string, amount: bigint): Promise<void> {
    await manager.query(
      `UPDATE exchange_requests SET remaining_cny = remaining_cny + $2,
              status = CASE WHEN status <> 'filled' THEN status WHEN expires_at > now() THEN 'open' ELSE 'expired' END, updated_at = now()
        WHERE id = $1`,
      [id, amount.toString()],
    );
  }

  async returnToOffer(manager: EntityManager, id: string, amount: bigint): Promise<void> {
    await manager.query(
      `UPDATE offers SET available_cny = available_cny + $2,
              status = CASE WHEN status = 'exhausted' AND available_cny + $2 >= min_cny THEN 'active' ELSE status END, updated_at = now()
        WHERE id = $1`,
      [id, amount.toString()],
    );
  }
}
