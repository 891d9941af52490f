import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedInTransaction, returningRows, SqlParams } from '../common/database/query';
import { reserveSql } from '../market/market.repository';
import { NewOutboxRow, OUTBOX_CHANNEL, outboxInsertSql } from '../outbox/outbox.repository';
import type { PaymentMethod } from '../market/market.types';
import type { Actor, HandleSnapshot, Trade, TradeEvent, TransitionEffects } from './trade.types';
import { TradeState } from './trade.state-machine';
import type { TradePosition } from './trade-position';

interface TradeRow {
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
  volume_day: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * A time for `transition` to store as PostgreSQL's `now()` (the transaction's start) plus `afterMs`: deadlines
 * come from the database's clock, as their outbox rows' due times do (`now() + delay`), so a deadline job is never
 * due before its deadline.
 */
class DbTime {
  constructor(readonly afterMs = 0) {}
}

/** The columns a transition's effects set, in the order they are written. */
function effectColumns(effects: TransitionEffects): [string, unknown][] {
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

/** The deadline a decision waits for, re-checked by its conditional update. */
export type DeadlineColumn = 'funding_by' | 'payout_by' | 'verify_by';

/**
 * What a transaction holds of one trade, taken in the service's one lock order (docs/ARCHITECTURE.md): the
 * request's or offer's row when `reach` is `source`, both users' rows in id order, then the trade's row.
 */
export interface TradeLocks {
  /** The trade as read under its row lock. */
  readonly trade: Trade;
  readonly reach: 'parties' | 'source';
}

/** The locks an end without completion needs: it gives the amount back to the source and the volume to its day. */
export type EndingLocks = TradeLocks & { readonly reach: 'source' };

/** The columns a Trade is read from, optionally qualified by a table alias. */
function tradeColumns(alias?: string): string {
  const p = alias ? `${alias}.` : '';
  return `${p}id, ${p}request_id, ${p}offer_id, ${p}traveler_id, ${p}counterparty_id, ${p}state, ${p}amount_cny, ${p}amount_usd, ${p}rate,
  ${p}fee_bps, ${p}fee_usd, ${p}payment_method, ${p}traveler_wechat_ciphertext, ${p}traveler_wechat_key_id, ${p}funding_by, ${p}payout_by,
  ${p}verify_by, ${p}dispute_id, ${p}settlement_failing, to_char(${p}volume_day, 'YYYY-MM-DD') AS volume_day, ${p}created_at, ${p}updated_at`;
}

const TRADE_COLUMNS = tradeColumns();

/**
 * A listed trade's place in its list, to the microsecond as PostgreSQL keeps it: a cursor at the millisecond
 * a JavaScript Date holds would skip or repeat trades made within one millisecond of the page's last.
 */
const POSITION = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position`;

export type ListedTrade = Trade & { position: string };

type ListedRow = TradeRow & { position: string };

function toListedTrade(row: ListedRow): ListedTrade {
  return { ...toTrade(row), position: row.position };
}

function toTrade(row: TradeRow): Trade {
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
    volumeDay: row.volume_day,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewTrade {
  requestId: string | null;
  offerId: string | null;
  travelerId: string;
  counterpartyId: string;
  amountCny: bigint;
  amountUsd: bigint;
  rate: bigint;
  feeBps: number;
  feeUsd: bigint;
  paymentMethod: PaymentMethod;
  travelerWechat: HandleSnapshot;
  counterpartyWechat: HandleSnapshot;
  counterpartyPaypal: HandleSnapshot;
  fundingWindowMs: number;
}

export interface PartyForTrade {
  id: string;
  tier: number;
  suspended: boolean;
  wechat: HandleSnapshot | null;
  paypal: HandleSnapshot | null;
}

/** What a party's tier limits are checked against: their trades still live and their USD of the UTC day, before this one. */
export interface PartyUsage {
  liveTrades: number;
  volumeTodayCents: bigint;
}

/** A trade just written, and what its source and parties looked like under the locks, before it. */
export interface OpenedTrade {
  trade: Trade;
  /** False when the source could not give the amount: the caller must roll back. */
  reserved: boolean;
  usage: Map<string, PartyUsage>;
}

/** The INSERT of one timeline event of the trade whose id is the parameter `tradeId`, alone or as a CTE. */
function tradeEventInsertSql(tradeId: string, event: Omit<TradeEvent, 'at'>, params: SqlParams): string {
  return `INSERT INTO trade_events (trade_id, actor_kind, actor_id, type, from_state, to_state, detail)
          VALUES (${tradeId}, ${params.add(event.actor.kind)}, ${params.add(event.actor.id)}, ${params.add(event.type)},
                  ${params.add(event.fromState)}, ${params.add(event.toState)}, ${params.add(event.detail)})`;
}

/**
 * `<as>_live` and `<as>_volume`: the party's trades still live (a counter that triggers keep at commit, see
 * the LiveTradeCounts migration) and its USD counted for the UTC day.
 */
function usageSql(as: string, partyId: string): string {
  return `coalesce((SELECT live FROM user_live_trades l WHERE l.user_id = ${partyId}), 0) AS ${as}_live,
          coalesce((SELECT usd_cents FROM user_daily_volume v WHERE v.user_id = ${partyId} AND v.day = (now() AT TIME ZONE 'UTC')::date), 0) AS ${as}_volume`;
}

/** A handle snapshot's three columns (ciphertext, key id, blind index), in that order. */
function snapshotValues(handle: HandleSnapshot, params: SqlParams): string {
  return `${params.add(handle.ciphertext)}, ${params.add(handle.keyId)}, ${params.add(handle.index)}`;
}

/** Every query on trades, their reservations, timeline and the daily volume. */
@Injectable()
export class TradesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private m(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /**
   * Locks both parties' user rows, in id order so two trades between the same people cannot deadlock, and
   * reads who they are. What their limits count is read by `openTrade`, a later statement: this one's
   * snapshot is taken before it waits for the locks, so a count here could miss a trade whose transaction
   * held them.
   */
  async lockParties(manager: EntityManager, ids: [string, string]): Promise<Map<string, PartyForTrade>> {
    const rows: {
      id: string;
      tier: number;
      suspended: boolean;
      wechat_id_ciphertext: string | null;
      wechat_id_key_id: string | null;
      wechat_id_index: string | null;
      paypal_email_ciphertext: string | null;
      paypal_email_key_id: string | null;
      paypal_email_index: string | null;
    }[] = await preparedInTransaction(
      manager,
      `SELECT u.id, u.tier, u.suspended_at IS NOT NULL AS suspended, u.wechat_id_ciphertext, u.wechat_id_key_id, u.wechat_id_index,
              u.paypal_email_ciphertext, u.paypal_email_key_id, u.paypal_email_index
         FROM users u WHERE u.id = ANY($1::uuid[]) ORDER BY u.id FOR UPDATE OF u`,
      [ids],
    );
    const parties = new Map<string, PartyForTrade>();
    for (const row of rows) {
      parties.set(row.id, {
        id: row.id,
        tier: row.tier,
        suspended: row.suspended,
        wechat: row.wechat_id_index
          ? { ciphertext: row.wechat_id_ciphertext!, keyId: row.wechat_id_key_id!, index: row.wechat_id_index }
          : null,
        paypal: row.paypal_email_index
          ? { ciphertext: row.paypal_email_ciphertext!, keyId: row.paypal_email_key_id!, index: row.paypal_email_index }
          : null,
      });
    }
    return parties;
  }

  /**
   * Opens a trade in one statement, the whole of its creation: the amount taken from its request or offer,
   * the trade and its reservation, both parties' volume of the UTC day, the first timeline event and the
   * funding deadline's outbox row; and, read in the same snapshot (so before these writes, and after the
   * locks were taken), each party's live trades and volume of the day, for the caller to check their limits
   * against. The caller holds the source's and the parties' rows locked; one round trip keeps that critical
   * section short. Every write is made regardless: a caller that finds the amount not reserved, or a limit
   * passed, throws and rolls back.
   */
  async openTrade(
    manager: EntityManager,
    trade: NewTrade & { id: string },
    event: Omit<TradeEvent, 'at'>,
    deadline: NewOutboxRow,
  ): Promise<OpenedTrade> {
    const params = new SqlParams();
    const source = trade.requestId ? { kind: 'request' as const, id: trade.requestId } : { kind: 'offer' as const, id: trade.offerId! };
    const reserve = reserveSql(source, trade.amountCny, params);
    const id = params.add(trade.id);
    const rows: (TradeRow & {
      reserved: number;
      traveler_live: number;
      traveler_volume: string;
      counterparty_live: number;
      counterparty_volume: string;
    })[] = await preparedInTransaction(
      manager,
      `WITH reserved AS (${reserve}),
       inserted AS (
         INSERT INTO trades (id, request_id, offer_id, traveler_id, counterparty_id, state, amount_cny, amount_usd, rate, fee_bps, fee_usd, payment_method,
                             traveler_wechat_ciphertext, traveler_wechat_key_id, traveler_wechat_index,
                             counterparty_wechat_ciphertext, counterparty_wechat_key_id, counterparty_wechat_index,
                             counterparty_paypal_ciphertext, counterparty_paypal_key_id, counterparty_paypal_index,
                             funding_by, volume_day)
         VALUES (${id}, ${params.add(trade.requestId)}, ${params.add(trade.offerId)}, ${params.add(trade.travelerId)},
                 ${params.add(trade.counterpartyId)}, 'awaiting_funding', ${params.add(trade.amountCny)},
                 ${params.add(trade.amountUsd)}, ${params.add(trade.rate)}, ${params.add(trade.feeBps)},
                 ${params.add(trade.feeUsd)}, ${params.add(trade.paymentMethod)},
                 ${snapshotValues(trade.travelerWechat, params)}, ${snapshotValues(trade.counterpartyWechat, params)},
                 ${snapshotValues(trade.counterpartyPaypal, params)},
                 now() + ${params.add(trade.fundingWindowMs)} * interval '1 millisecond', (now() AT TIME ZONE 'UTC')::date)
         RETURNING *
       ), reservation AS (
         INSERT INTO trade_reservations (trade_id, request_id, offer_id, amount_cny)
         SELECT id, request_id, offer_id, amount_cny FROM inserted
       ), volume AS (
         INSERT INTO user_daily_volume (user_id, day, usd_cents)
         SELECT party, (now() AT TIME ZONE 'UTC')::date, inserted.amount_usd
           FROM inserted, unnest(ARRAY[inserted.traveler_id, inserted.counterparty_id]) AS party ORDER BY party
         ON CONFLICT (user_id, day) DO UPDATE SET usd_cents = user_daily_volume.usd_cents + EXCLUDED.usd_cents
       ), event AS (${tradeEventInsertSql(id, event, params)}),
       deadline AS (${outboxInsertSql(deadline, params)})
       SELECT ${TRADE_COLUMNS}, (SELECT count(*) FROM reserved)::int AS reserved,
              ${usageSql('traveler', params.add(trade.travelerId))}, ${usageSql('counterparty', params.add(trade.counterpartyId))},
              pg_notify(${params.add(OUTBOX_CHANNEL)}, '')
         FROM inserted`,
      params.values,
    );
    const row = rows[0];
    return {
      trade: toTrade(row),
      reserved: row.reserved === 1,
      usage: new Map([
        [trade.travelerId, { liveTrades: row.traveler_live, volumeTodayCents: BigInt(row.traveler_volume) }],
        [trade.counterpartyId, { liveTrades: row.counterparty_live, volumeTodayCents: BigInt(row.counterparty_volume) }],
      ]),
    };
  }

  /**
   * Each party's live trades and volume of the UTC day, read as `openTrade` reads them (a statement after the
   * parties' locks), before any trade is decided: a trade the limits refuse is refused before anything is written,
   * whether or not it would have been a self-trade, and a self-trade only once its limits pass.
   */
  async usageOf(manager: EntityManager, ids: [string, string]): Promise<Map<string, PartyUsage>> {
    const params = new SqlParams();
    const rows: { a_live: number; a_volume: string; b_live: number; b_volume: string }[] = await manager.query(
      `SELECT ${usageSql('a', params.add(ids[0]))}, ${usageSql('b', params.add(ids[1]))}`,
      params.values,
    );
    const row = rows[0];
    return new Map([
      [ids[0], { liveTrades: row.a_live, volumeTodayCents: BigInt(row.a_volume) }],
      [ids[1], { liveTrades: row.b_live, volumeTodayCents: BigInt(row.b_volume) }],
    ]);
  }

  /** Locks both parties' rows in id order, as trade creation does, before their counters change. */
  async lockUsers(manager: EntityManager, ids: string[]): Promise<void> {
    await manager.query(`SELECT id FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [ids]);
  }

  /**
   * The locks of an end without completion (cancel, expiry, a refund completed), before its transition: the
   * request's or offer's row, both users' rows in id order, then the trade's row, in the order an accept or a
   * take holds them, so the two can never wait on each other in a cycle. `trade` may have been read without a
   * lock: its source and parties never change. Returns it as read under its lock.
   */
  async lockForEnding(manager: EntityManager, trade: Trade): Promise<EndingLocks> {
    // What returning the amount will take anyway (an UPDATE's lock), taken first.
    if (trade.requestId) await manager.query(`SELECT 1 FROM exchange_requests WHERE id = $1 FOR NO KEY UPDATE`, [trade.requestId]);
    if (trade.offerId) await manager.query(`SELECT 1 FROM offers WHERE id = $1 FOR NO KEY UPDATE`, [trade.offerId]);
    return { trade: await this.lockPartiesThenTrade(manager, trade), reach: 'source' };
  }

  /**
   * Both users' rows in id order, then the trade's row: before a transition that changes the parties' own rows
   * (reputation counters, tier), which every such path then takes after the trade.
   */
  async lockWithParties(manager: EntityManager, trade: Trade): Promise<TradeLocks> {
    return { trade: await this.lockPartiesThenTrade(manager, trade), reach: 'parties' };
  }

  private async lockPartiesThenTrade(manager: EntityManager, trade: Trade): Promise<Trade> {
    await this.lockUsers(manager, [trade.travelerId, trade.counterpartyId]);
    const rows: TradeRow[] = await manager.query(`SELECT ${TRADE_COLUMNS} FROM trades WHERE id = $1 FOR UPDATE`, [trade.id]);
    return toTrade(rows[0]);
  }

  /** Gives a trade's USD back to the day it was counted in. */
  async giveBackVolume(manager: EntityManager, userIds: string[], day: string, usdCents: bigint): Promise<void> {
    await manager.query(`UPDATE user_daily_volume SET usd_cents = usd_cents - $3 WHERE user_id = ANY($1::uuid[]) AND day = $2::date`, [
      userIds,
      day,
      usdCents.toString(),
    ]);
  }

  /** Marks the reservation returned, once; returns what to give back, or null if it was already returned. */
  async takeBackReservation(
    manager: EntityManager,
    tradeId: string,
  ): Promise<{ requestId: string | null; offerId: string | null; amountCny: bigint } | null> {
    const rows = await returningRows<{ request_id: string | null; offer_id: string | null; amount_cny: string }>(
      manager,
      `UPDATE trade_reservations SET returned_at = now() WHERE trade_id = $1 AND returned_at IS NULL RETURNING request_id, offer_id, amount_cny`,
      [tradeId],
    );
    return rows.length === 0 ? null : { requestId: rows[0].request_id, offerId: rows[0].offer_id, amountCny: BigInt(rows[0].amount_cny) };
  }

  async find(id: string, manager?: EntityManager): Promise<Trade | null> {
    const rows: TradeRow[] = await this.m(manager).query(`SELECT ${TRADE_COLUMNS} FROM trades WHERE id = $1`, [id]);
    return rows.length === 0 ? null : toTrade(rows[0]);
  }

  /**
   * Moves a trade from one of `from` to `to` in one conditional update, so two processes can never both
   * make the same transition; returns the trade after it, or null when it was not in such a state. A deadline's
   * decision names its column (`due`): the update then also requires it passed, by PostgreSQL's clock, as read
   * under the row lock, so an extension committed since the caller looked is not overridden.
   */
  async transition(
    manager: EntityManager,
    id: string,
    from: TradeState[],
    to: TradeState,
    effects: TransitionEffects = {},
    due?: DeadlineColumn,
  ): Promise<(Trade & { previousState: TradeState }) | null> {
    const set = effectColumns(effects);
    const assignments = set.map(([column, value], i) =>
      value instanceof DbTime ? `${column} = now() + $${i + 4}::double precision * interval '1 millisecond'` : `${column} = $${i + 4}`,
    );
    const values = set.map(([, value]) => (value instanceof DbTime ? value.afterMs : value));
    // The state it left is read under the same row lock as the update, so the timeline names it truly.
    const rows = await returningRows<TradeRow & { previous_state: TradeState }>(
      manager,
      `UPDATE trades t SET state = $3, updated_at = now()${assignments.length ? `, ${assignments.join(', ')}` : ''}
         FROM (SELECT id, state${due ? `, ${due}` : ''} FROM trades WHERE id = $1 FOR UPDATE) previous
        WHERE t.id = previous.id AND previous.state = ANY($2::text[])${due ? ` AND previous.${due} <= now()` : ''}
        RETURNING previous.state AS previous_state, ${tradeColumns('t')}`,
      [id, from, to, ...values],
    );
    return rows.length === 0 ? null : { ...toTrade(rows[0]), previousState: rows[0].previous_state };
  }

  async insertEvent(manager: EntityManager, tradeId: string, event: Omit<TradeEvent, 'at'>): Promise<void> {
    const params = new SqlParams();
    await manager.query(tradeEventInsertSql(params.add(tradeId), event, params), params.values);
  }

  async events(tradeId: string, limit: number, afterId?: string): Promise<(TradeEvent & { id: string })[]> {
    const rows: {
      id: string;
      at: Date;
      actor_kind: Actor['kind'];
      actor_id: string | null;
      type: TradeEvent['type'];
      from_state: TradeState | null;
      to_state: TradeState | null;
      detail: Record<string, unknown>;
    }[] = await this.dataSource.query(
      `SELECT id, at, actor_kind, actor_id, type, from_state, to_state, detail FROM trade_events
          WHERE trade_id = $1 AND ($2::bigint IS NULL OR id > $2::bigint) ORDER BY id LIMIT $3`,
      [tradeId, afterId ?? null, limit],
    );
    return rows.map((r) => ({
      id: String(r.id),
      at: r.at,
      actor: { kind: r.actor_kind, id: r.actor_id },
      type: r.type,
      fromState: r.from_state,
      toState: r.to_state,
      detail: r.detail,
    }));
  }

  /** The whole timelines of these trades, each oldest first (the account export: one read per page of trades). */
  async eventsOfTrades(tradeIds: string[]): Promise<(TradeEvent & { tradeId: string })[]> {
    const rows: {
      trade_id: string;
      at: Date;
      actor_kind: Actor['kind'];
      actor_id: string | null;
      type: TradeEvent['type'];
      from_state: TradeState | null;
      to_state: TradeState | null;
      detail: Record<string, unknown>;
    }[] = await this.dataSource.query(
      `SELECT trade_id, at, actor_kind, actor_id, type, from_state, to_state, detail FROM trade_events
        WHERE trade_id = ANY($1::uuid[]) ORDER BY trade_id, id`,
      [tradeIds],
    );
    return rows.map((r) => ({
      tradeId: r.trade_id,
      at: r.at,
      actor: { kind: r.actor_kind, id: r.actor_id },
      type: r.type,
      fromState: r.from_state,
      toState: r.to_state,
      detail: r.detail,
    }));
  }

  /**
   * The caller's trades, newest first. A user's trades are those it travels in and those it counters: each is
   * a backward walk of its own index from the cursor, at most one page long, and the two are merged. So a page
   * costs the same with a million trades in the table as with ten.
   */
  async listForUser(userId: string, states: TradeState[] | undefined, limit: number, after?: TradePosition): Promise<ListedTrade[]> {
    const side = (column: string) => `
      (SELECT ${TRADE_COLUMNS}, ${POSITION} FROM trades
        WHERE ${column} = $1 AND ($2::text[] IS NULL OR state = ANY($2::text[]))
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $5)`;
    const rows: ListedRow[] = await this.dataSource.query(
      `SELECT * FROM (${side('traveler_id')} UNION ALL ${side('counterparty_id')}) AS mine ORDER BY created_at DESC, id DESC LIMIT $5`,
      [userId, states ?? null, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    return rows.map(toListedTrade);
  }

  /**
   * The trade's row locked, and whether it is in `state` with its deadline passed by PostgreSQL's clock: a
   * decision taken on it cannot miss an extension committed meanwhile (the extension waits for the lock, or was
   * read under it).
   */
  async lockIfDue(manager: EntityManager, tradeId: string, state: TradeState, due: DeadlineColumn): Promise<Trade | null> {
    const rows: TradeRow[] = await manager.query(
      `SELECT ${TRADE_COLUMNS} FROM trades WHERE id = $1 AND state = $2 AND ${due} <= now() FOR UPDATE`,
      [tradeId, state],
    );
    return rows.length === 0 ? null : toTrade(rows[0]);
  }

  /**
   * How long until the trade's deadline, by PostgreSQL's clock at this moment (`clock_timestamp()`, not the
   * start of a transaction); null when the trade is no longer in `state` or has no such deadline. A deadline job
   * that woke before its deadline sleeps this long (a duration: the worker's clock may be set apart from PostgreSQL's).
   */
  async untilDeadline(tradeId: string, state: TradeState, due: DeadlineColumn, manager?: EntityManager): Promise<number | null> {
    const rows: { ms: string | null }[] = await this.m(manager).query(
      `SELECT ceil(extract(epoch FROM ${due} - clock_timestamp()) * 1000)::bigint AS ms FROM trades WHERE id = $1 AND state = $2`,
      [tradeId, state],
    );
    return rows[0]?.ms == null ? null : Number(rows[0].ms);
  }

  /** Trades past their funding window, for the sweeper, which then handles each in its own transaction. */
  async dueForFunding(limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM trades WHERE state = 'awaiting_funding' AND funding_by <= now() ORDER BY funding_by LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  async splitOf(manager: EntityManager, tradeId: string): Promise<{ travelerUsd: bigint; counterpartyUsd: bigint } | null> {
    const rows = await manager.query(`SELECT split_traveler_usd, split_counterparty_usd FROM trades WHERE id = $1`, [tradeId]);
    if (!rows[0]?.split_traveler_usd) return null;
    return { travelerUsd: BigInt(rows[0].split_traveler_usd), counterpartyUsd: BigInt(rows[0].split_counterparty_usd) };
  }

  /** Trades past their payout window, for the sweeper. */
  async dueForPayout(limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM trades WHERE state = 'funded' AND payout_by <= now() ORDER BY payout_by LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** When the trade was created, funded, and its RMB reported sent (or, unreported, when its release began). */
  async timesOf(manager: EntityManager, tradeId: string): Promise<{ createdAt: Date; fundedAt: Date | null; rmbSentAt: Date | null }> {
    const rows = await manager.query(
      `SELECT created_at, funded_at,
              coalesce(payout_reported_at, (SELECT min(at) FROM trade_events e WHERE e.trade_id = t.id AND e.to_state = 'releasing')) AS rmb_sent_at
         FROM trades t WHERE id = $1`,
      [tradeId],
    );
    return { createdAt: rows[0].created_at, fundedAt: rows[0].funded_at, rmbSentAt: rows[0].rmb_sent_at };
  }

  /** The trade's state, its row locked for the rest of the caller's transaction. */
  async lockState(manager: EntityManager, tradeId: string): Promise<TradeState | null> {
    const rows = await manager.query(`SELECT state FROM trades WHERE id = $1 FOR UPDATE`, [tradeId]);
    return rows[0]?.state ?? null;
  }

  /** Raises the flag operators see on a settlement that keeps failing, only while the trade is still settling. */
  async flagSettlementFailing(tradeId: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE trades SET settlement_failing = true, updated_at = now()
        WHERE id = $1 AND NOT settlement_failing AND state IN ('releasing', 'refunding', 'splitting')`,
      [tradeId],
    );
  }

  /** How many trades are flagged, from the partial index on the flag (a handful at most). */
  async countSettlementFailing(): Promise<number> {
    const rows = await this.dataSource.query(`SELECT count(*)::int AS n FROM trades WHERE settlement_failing`);
    return rows[0].n;
  }

  /** Clears the flag, in the transaction that completes the settlement. */
  async clearSettlementFailing(manager: EntityManager, tradeId: string): Promise<void> {
    await manager.query(`UPDATE trades SET settlement_failing = false WHERE id = $1 AND settlement_failing`, [tradeId]);
  }

  /** Trades for operators, newest first: by state and by the settlement flag. */
  async listForOperators(
    filter: { state?: TradeState; settlementFailing?: boolean },
    limit: number,
    after?: TradePosition,
  ): Promise<ListedTrade[]> {
    const rows: ListedRow[] = await this.dataSource.query(
      `SELECT ${TRADE_COLUMNS}, ${POSITION} FROM trades
        WHERE ($1::text IS NULL OR state = $1) AND ($2::boolean IS NULL OR settlement_failing = $2)
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $5`,
      [filter.state ?? null, filter.settlementFailing ?? null, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    return rows.map(toListedTrade);
  }

  /** The blind index of the counterparty's PayPal email, as snapshotted: compared, never decrypted. */
  async counterpartyPaypalIndexOf(tradeId: string): Promise<string | null> {
    const rows = await this.dataSource.query(`SELECT counterparty_paypal_index FROM trades WHERE id = $1`, [tradeId]);
    return rows[0]?.counterparty_paypal_index ?? null;
  }

  /**
   * The RMB leg as snapshotted when the trade was made: both wallets (ciphertexts and blind indexes, never
   * decrypted here), the reported transfer, and when it was funded (where a search for a transfer starts).
   */
  async rmbLegOf(tradeId: string): Promise<{
    traveler: { ciphertext: string; keyId: string; index: string };
    counterparty: { ciphertext: string; keyId: string; index: string };
    wechatTransferId: string | null;
    fundedAt: Date | null;
  } | null> {
    const rows = await this.dataSource.query(
      `SELECT traveler_wechat_ciphertext, traveler_wechat_key_id, traveler_wechat_index,
              counterparty_wechat_ciphertext, counterparty_wechat_key_id, counterparty_wechat_index, wechat_transfer_id, funded_at
         FROM trades WHERE id = $1`,
      [tradeId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      traveler: { ciphertext: r.traveler_wechat_ciphertext, keyId: r.traveler_wechat_key_id, index: r.traveler_wechat_index },
      counterparty: {
        ciphertext: r.counterparty_wechat_ciphertext,
        keyId: r.counterparty_wechat_key_id,
        index: r.counterparty_wechat_index,
      },
      wechatTransferId: r.wechat_transfer_id,
      fundedAt: r.funded_at,
    };
  }

  async tradeOfWechatTransfer(transferId: string): Promise<string | null> {
    const rows = await this.dataSource.query(`SELECT id FROM trades WHERE wechat_transfer_id = $1`, [transferId]);
    return rows[0]?.id ?? null;
  }

  /** The counterparty's PayPal email as snapshotted when the trade was made (ciphertext, never decrypted here). */
  async counterpartyPaypalOf(tradeId: string): Promise<{ ciphertext: string; keyId: string } | null> {
    const rows = await this.dataSource.query(
      `SELECT counterparty_paypal_ciphertext, counterparty_paypal_key_id FROM trades WHERE id = $1`,
      [tradeId],
    );
    return rows[0] ? { ciphertext: rows[0].counterparty_paypal_ciphertext, keyId: rows[0].counterparty_paypal_key_id } : null;
  }

  /** The counterparty's PayPal email on file now (a payout paid again goes where they have since put it). */
  async counterpartyCurrentPaypalOf(tradeId: string): Promise<{ ciphertext: string; keyId: string } | null> {
    const rows = await this.dataSource.query(
      `SELECT u.paypal_email_ciphertext, u.paypal_email_key_id FROM trades t JOIN users u ON u.id = t.counterparty_id WHERE t.id = $1`,
      [tradeId],
    );
    return rows[0]?.paypal_email_ciphertext ? { ciphertext: rows[0].paypal_email_ciphertext, keyId: rows[0].paypal_email_key_id } : null;
  }

  /** Flags an ended trade whose payout or bank refund came back: operators see it and pay it again; its state stays. */
  async flagReturnedAfterEnd(manager: EntityManager, tradeId: string): Promise<void> {
    await manager.query(`UPDATE trades SET settlement_failing = true, updated_at = now() WHERE id = $1 AND NOT settlement_failing`, [
      tradeId,
    ]);
  }

  /** A dispute decided: the loser's and the winner's counters. */
  async countDispute(manager: EntityManager, loserId: string, winnerId: string): Promise<void> {
    await this.lockCounters(manager, [loserId, winnerId]);
    await manager.query(
      `UPDATE user_reputation SET disputes_lost = disputes_lost + CASE WHEN user_id = $1 THEN 1 ELSE 0 END,
              disputes_won = disputes_won + CASE WHEN user_id = $2 THEN 1 ELSE 0 END
        WHERE user_id IN ($1, $2)`,
      [loserId, winnerId],
    );
  }

  /**
   * A completed trade in both parties' counters, with the minutes it took each (the last 100 kept for the
   * median), and tier 1 for whoever has now earned it.
   */
  async countCompletedTrade(
    manager: EntityManager,
    minutesByUser: { userId: string; minutes: number }[],
    tier1CompletedTrades: number,
  ): Promise<void> {
    await this.lockCounters(
      manager,
      minutesByUser.map((m) => m.userId),
    );
    for (const { userId, minutes } of minutesByUser) {
      await manager.query(
        `UPDATE user_reputation SET completed_trades = completed_trades + 1,
                recent_release_minutes = (recent_release_minutes || $2::int)[cardinality(recent_release_minutes) - 98:]
          WHERE user_id = $1`,
        [userId, minutes],
      );
    }
    await manager.query(
      `UPDATE users u SET tier = 1, updated_at = now() FROM user_reputation r
        WHERE r.user_id = u.id AND u.id = ANY($1::uuid[]) AND u.tier = 0 AND r.completed_trades >= $2 AND r.disputes_lost = 0`,
      [minutesByUser.map((m) => m.userId), tier1CompletedTrades],
    );
  }

  /**
   * The users' rows, then their counters, each in id order: every path that counts (a completion, a dispute
   * decided, a trade ended) takes them the same way, so two of them for the same people never deadlock.
   */
  private async lockCounters(manager: EntityManager, userIds: string[]): Promise<void> {
    await this.lockUsers(manager, userIds);
    await manager.query(`SELECT 1 FROM user_reputation WHERE user_id = ANY($1::uuid[]) ORDER BY user_id FOR UPDATE`, [userIds]);
  }

  /** The reputation counter for a trade that ended uncompleted by this user's doing. */
  async countFailedTrade(manager: EntityManager, userId: string): Promise<void> {
    await manager.query(`UPDATE user_reputation SET failed_trades = failed_trades + 1 WHERE user_id = $1`, [userId]);
  }
}
