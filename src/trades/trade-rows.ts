import type { PaymentMethod } from '../market/market.types';
import type { PartyForTrade, Trade, TransitionEffects } from './trade.types';
import type { TradeState } from './trade.state-machine';

/** How a trade maps to its row: the columns it is read from, and the columns a transition's effects set. */

export interface TradeRow {
  id: string;
  request_id: string | null;
  offer_id: string | null;
  traveler_id: string;
  counterparty_id: string;
  state: TradeState;
  amount_cny: string;
  amount_usd: string;
  rate: string;
  fee_bps: number;
  fee_usd: string;
  payment_method: PaymentMethod;
  traveler_wechat_ciphertext: string | null;
  traveler_wechat_key_id: string | null;
  funding_by: Date | null;
  payout_by: Date | null;
  verify_by: Date | null;
  dispute_id: string | null;
  settlement_failing: boolean;
  split_counterparty_usd: string | null;
  volume_day: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * A time for `transition` to store as PostgreSQL's `now()` (the transaction's start) plus `afterMs`: deadlines
 * come from the database's clock, as their outbox rows' due times do (`now() + delay`), so a deadline job is never
 * due before its deadline.
 */
export class DbTime {
  constructor(readonly afterMs = 0) {}
}

/** The columns a transition's effects set, in the order they are written. */
export function effectColumns(effects: TransitionEffects): [string, unknown][] {
  const columns: [string, unknown][] = [];
  if (effects.funded) {
    // The deadline and its job's due time are one expression of one clock: now() + the window.
    columns.push(['funded_at', new DbTime()], ['payout_by', new DbTime(effects.funded.payoutWindowMs)]);
  }
  if (effects.payoutReported) {
    columns.push(['wechat_transfer_id', effects.payoutReported.wechatTransferId], ['payout_reported_at', new DbTime()]);
    if (effects.payoutReported.verifyWithinMs !== undefined) columns.push(['verify_by', new DbTime(effects.payoutReported.verifyWithinMs)]);
  }
  if (effects.disputeOpened) {
    columns.push(['dispute_id', effects.disputeOpened.disputeId], ['payout_by', null], ['verify_by', null]);
  }
  if (effects.split) {
    columns.push(
      ['split_traveler_usd', effects.split.travelerUsd.toString()],
      ['split_counterparty_usd', effects.split.counterpartyUsd.toString()],
    );
  }
  if (effects.feeUsd !== undefined) columns.push(['fee_usd', effects.feeUsd.toString()]);
  return columns;
}

/** The columns a Trade is read from, optionally qualified by a table alias. */
export function tradeColumns(alias?: string): string {
  const p = alias ? `${alias}.` : '';
  return `${p}id, ${p}request_id, ${p}offer_id, ${p}traveler_id, ${p}counterparty_id, ${p}state, ${p}amount_cny, ${p}amount_usd, ${p}rate,
  ${p}fee_bps, ${p}fee_usd, ${p}payment_method, ${p}traveler_wechat_ciphertext, ${p}traveler_wechat_key_id, ${p}funding_by, ${p}payout_by,
  ${p}verify_by, ${p}dispute_id, ${p}settlement_failing, ${p}split_counterparty_usd, to_char(${p}volume_day, 'YYYY-MM-DD') AS volume_day, ${p}created_at, ${p}updated_at`;
}

export const TRADE_COLUMNS = tradeColumns();

/**
 * A listed trade's place in its list, to the microsecond as PostgreSQL keeps it: a cursor at the millisecond
 * a JavaScript Date holds would skip or repeat trades made within one millisecond of the page's last.
 */
export const POSITION = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position`;

export type ListedTrade = Trade & { position: string };

export type ListedRow = TradeRow & { position: string };

export function toListedTrade(row: ListedRow): ListedTrade {
  return { ...toTrade(row), position: row.position };
}

export function toTrade(row: TradeRow): Trade {
  return {
    id: row.id,
    requestId: row.request_id,
    offerId: row.offer_id,
    travelerId: row.traveler_id,
    counterpartyId: row.counterparty_id,
    state: row.state,
    amountCny: BigInt(row.amount_cny),
    amountUsd: BigInt(row.amount_usd),
    rate: BigInt(row.rate),
    feeBps: row.fee_bps,
    feeUsd: BigInt(row.fee_usd),
    paymentMethod: row.payment_method,
    // Null once the handle snapshots were erased after retention (handle-retention.repository.ts).
    travelerWechat:
      row.traveler_wechat_ciphertext && row.traveler_wechat_key_id
        ? { ciphertext: row.traveler_wechat_ciphertext, keyId: row.traveler_wechat_key_id }
        : null,
    fundingBy: row.funding_by,
    payoutBy: row.payout_by,
    verifyBy: row.verify_by,
    disputeId: row.dispute_id,
    settlementFailing: row.settlement_failing,
    splitCounterpartyUsd: row.split_counterparty_usd === null ? null : BigInt(row.split_counterparty_usd),
    volumeDay: row.volume_day,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A party's row as a trade is decided on it: who they are, their tier, suspension and payment handles. */
export const PARTY_COLUMNS = `u.id, u.tier, u.suspended_at IS NOT NULL AS suspended, u.wechat_id_ciphertext, u.wechat_id_key_id,
              u.wechat_id_index, u.paypal_email_ciphertext, u.paypal_email_key_id, u.paypal_email_index`;

export interface PartyRow {
  id: string;
  tier: number;
  suspended: boolean;
  wechat_id_ciphertext: string | null;
  wechat_id_key_id: string | null;
  wechat_id_index: string | null;
  paypal_email_ciphertext: string | null;
  paypal_email_key_id: string | null;
  paypal_email_index: string | null;
}

export function toParty(row: PartyRow): PartyForTrade {
  return {
    id: row.id,
    tier: row.tier,
    suspended: row.suspended,
    wechat: row.wechat_id_index
      ? { ciphertext: row.wechat_id_ciphertext!, keyId: row.wechat_id_key_id!, index: row.wechat_id_index }
      : null,
    paypal: row.paypal_email_index
      ? { ciphertext: row.paypal_email_ciphertext!, keyId: row.paypal_email_key_id!, index: row.paypal_email_index }
      : null,
  };
}

/**
 * What opening a trade writes beside the trade row, read from the statement's `inserted` CTE: its reservation and
 * both parties' volume of the UTC day (in party order, the lock order).
 */
export const OPENING_SIDE_WRITES = `reservation AS (
         INSERT INTO trade_reservations (trade_id, request_id, offer_id, amount_cny)
         SELECT id, request_id, offer_id, amount_cny FROM inserted
       ), volume AS (
         INSERT INTO user_daily_volume (user_id, day, usd_cents)
         SELECT party, (now() AT TIME ZONE 'UTC')::date, inserted.amount_usd
           FROM inserted, unnest(ARRAY[inserted.traveler_id, inserted.counterparty_id]) AS party ORDER BY party
         ON CONFLICT (user_id, day) DO UPDATE SET usd_cents = user_daily_volume.usd_cents + EXCLUDED.usd_cents
       )`;
