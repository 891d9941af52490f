import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedInTransaction, preparedQuery, returningRows, SqlParams } from '../common/database/query';
import { reserveSql } from '../market/market.repository';
import { trackOutboxRow } from '../outbox/outbox-tracking';
import { NewOutboxRow, outboxInsertSql, outboxNotifySql } from '../outbox/outbox.repository';
import type {
  Actor,
  HandleSnapshot,
  NewTrade,
  OpenedTrade,
  PartyForTrade,
  PartyUsage,
  Trade,
  TradeEvent,
  TransitionEffects,
} from './trade.types';
import { stateChangedInsertSql, tradeEventInsertSql } from './timeline.repository';
import {
  DbTime,
  effectColumns,
  OPENING_SIDE_WRITES,
  PARTY_COLUMNS,
  PartyRow,
  TRADE_COLUMNS,
  TradeRow,
  toParty,
  toTrade,
  tradeColumns,
} from './trade-rows';
import { TradeState } from './trade.state-machine';

/** The deadline a decision waits for, re-checked by its conditional update. */
export type DeadlineColumn = 'funding_by' | 'payout_by' | 'verify_by';

/** When the trade was created, funded, and its RMB reported sent (or, unreported, when its release began). */
export interface TradeTimes {
  createdAt: Date;
  fundedAt: Date | null;
  rmbSentAt: Date | null;
}

/**
 * `TradeTimes`' columns of the trade aliased `t`. In a statement that waits for locks, the trade's own columns are
 * read at its latest version but the timeline's on the statement's snapshot, taken before the wait: right for a
 * release that began (its `releasing` event committed) before the statement started.
 */
const TIMES_COLUMNS = `t.funded_at,
  coalesce(t.payout_reported_at, (SELECT min(at) FROM trade_events e WHERE e.trade_id = t.id AND e.to_state = 'releasing')) AS rmb_sent_at`;

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

/**
 * `<as>_live` and `<as>_volume`: the party's trades still live (a counter that triggers keep at commit, see
 * the LiveTradeCounts migration) and its USD counted for the UTC day.
 */
export function usageSql(as: string, partyId: string): string {
  return `coalesce((SELECT live FROM user_live_trades l WHERE l.user_id = ${partyId}), 0) AS ${as}_live,
          coalesce((SELECT usd_cents FROM user_daily_volume v WHERE v.user_id = ${partyId} AND v.day = (now() AT TIME ZONE 'UTC')::date), 0) AS ${as}_volume`;
}

/** A handle snapshot's three columns (ciphertext, key id, blind index), in that order. */
export function snapshotValues(handle: HandleSnapshot, params: SqlParams): string {
  return `${params.add(handle.ciphertext)}, ${params.add(handle.keyId)}, ${params.add(handle.index)}`;
}

/**
 * The queries on trades, their reservations and the daily volume: opening a trade, its locks and transitions, and
 * the reads of trades. The timeline is timeline.repository.ts; what payments read, trade-settlement.repository.ts;
 * the reputation counters, users/reputation-counters.repository.ts.
 */
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
    const rows: PartyRow[] = await preparedInTransaction(
      manager,
      `SELECT ${PARTY_COLUMNS} FROM users u WHERE u.id = ANY($1::uuid[]) ORDER BY u.id FOR UPDATE OF u`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, toParty(row)]));
  }

  /**
   * Opens a trade in one statement, the whole of its creation: the amount taken from its request or offer,
   * the trade and its reservation, both parties' volume of the UTC day, the first timeline event and the
   * funding deadline's outbox row if it is due within the horizon; and, read in the same snapshot (so before these
   * writes, and after the locks were taken), each party's live trades and volume of the day, for the caller to
   * check their limits against. The caller holds the source's and the parties' rows locked; one round trip keeps that critical
   * section short. Every write is made regardless: a caller that finds the amount not reserved, or a limit
   * passed, throws and rolls back.
   */
  async openTrade(
    manager: EntityManager,
    trade: NewTrade & { id: string },
    event: Omit<TradeEvent, 'at'>,
    deadline: NewOutboxRow | null,
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
      outbox_id: string | null;
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
       ), ${OPENING_SIDE_WRITES}, event AS (${tradeEventInsertSql(id, event, params)})
       ${deadline ? `, deadline AS (${outboxInsertSql(deadline, params)})` : ''}
       SELECT ${TRADE_COLUMNS}, (SELECT count(*) FROM reserved)::int AS reserved,
              ${usageSql('traveler', params.add(trade.travelerId))}, ${usageSql('counterparty', params.add(trade.counterpartyId))},
              ${deadline ? '(SELECT id FROM deadline)' : 'NULL'} AS outbox_id, ${deadline ? outboxNotifySql([deadline], params) : 'NULL'}
         FROM inserted`,
      params.values,
    );
    const row = rows[0];
    if (deadline) trackOutboxRow(manager, deadline, String(row.outbox_id));
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
  async lockWithParties(manager: EntityManager, tradeId: string): Promise<(TradeLocks & { times: TradeTimes }) | null> {
    // The parties come from the trade's own row in the same statement (they never change): no read before the locks.
    const rows = await preparedInTransaction<TradeRow & { funded_at: Date | null; rmb_sent_at: Date | null }>(
      manager,
      `WITH parties AS MATERIALIZED (
         SELECT u.id FROM trades t JOIN users u ON u.id IN (t.traveler_id, t.counterparty_id)
          WHERE t.id = $1 ORDER BY u.id FOR UPDATE OF u)
       SELECT ${TRADE_COLUMNS}, ${TIMES_COLUMNS} FROM trades t WHERE id = $1 AND (SELECT count(*) FROM parties) >= 0 FOR UPDATE OF t`,
      [tradeId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      trade: toTrade(row),
      reach: 'parties',
      times: { createdAt: row.created_at, fundedAt: row.funded_at, rmbSentAt: row.rmb_sent_at },
    };
  }

  /**
   * Both parties' rows in id order, then the trade's row, in one statement: the trade's lock waits on the users' (a one-time filter), and
   * a trade changed during that wait is locked and returned at its latest version.
   */
  private async lockPartiesThenTrade(manager: EntityManager, trade: Trade): Promise<Trade> {
    const rows = await preparedInTransaction<TradeRow>(
      manager,
      `WITH parties AS MATERIALIZED (SELECT id FROM users WHERE id = ANY($2::uuid[]) ORDER BY id FOR UPDATE)
       SELECT ${TRADE_COLUMNS} FROM trades WHERE id = $1 AND (SELECT count(*) FROM parties) >= 0 FOR UPDATE OF trades`,
      [trade.id, [trade.travelerId, trade.counterpartyId]],
    );
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
    // The hottest read of all (every trade view, every job, every transition's refusal): its plan is kept.
    const rows = await preparedQuery<TradeRow>(this.dataSource, manager, `SELECT ${TRADE_COLUMNS} FROM trades WHERE id = $1`, [id]);
    return rows.length === 0 ? null : toTrade(rows[0]);
  }

  /**
   * Moves a trade from one of `from` to `to` in one conditional update, so two processes can never both
   * make the same transition, and writes its `state_changed` timeline event in the same statement; returns the
   * trade after it, or null when it was not in such a state (then nothing is written). A deadline's decision
   * names its column (`due`): the update then also requires it passed, by PostgreSQL's clock, as read under the
   * row lock, so an extension committed since the caller looked is not overridden.
   */
  async transition(
    manager: EntityManager,
    id: string,
    from: TradeState[],
    to: TradeState,
    change: { actor: Actor; detail: object },
    effects: TransitionEffects = {},
    due?: DeadlineColumn,
  ): Promise<(Trade & { previousState: TradeState }) | null> {
    const params = new SqlParams();
    const tradeId = params.add(id);
    const sources = params.add(from);
    const target = params.add(to);
    const assignments = effectColumns(effects).map(([column, value]) =>
      value instanceof DbTime
        ? `${column} = now() + ${params.add(value.afterMs)}::double precision * interval '1 millisecond'`
        : `${column} = ${params.add(value)}`,
    );
    // The state it left is read under the same row lock as the update, so the timeline names it truly.
    const rows = await preparedInTransaction<TradeRow & { previous_state: TradeState }>(
      manager,
      `WITH moved AS (
         UPDATE trades t SET state = ${target}, updated_at = now()${assignments.length ? `, ${assignments.join(', ')}` : ''}
           FROM (SELECT id, state${due ? `, ${due}` : ''} FROM trades WHERE id = ${tradeId} FOR UPDATE) previous
          WHERE t.id = previous.id AND previous.state = ANY(${sources}::text[])${due ? ` AND previous.${due} <= now()` : ''}
          RETURNING previous.state AS previous_state, ${tradeColumns('t')}
       ), timeline AS (${stateChangedInsertSql('moved', target, change.actor, change.detail, params)})
       SELECT * FROM moved`,
      params.values,
    );
    return rows.length === 0 ? null : { ...toTrade(rows[0]), previousState: rows[0].previous_state };
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

  /** The trade's state, its row locked for the rest of the caller's transaction. */
  async lockState(manager: EntityManager, tradeId: string): Promise<TradeState | null> {
    const rows = await preparedQuery<{ state: TradeState }>(this.dataSource, manager, `SELECT state FROM trades WHERE id = $1 FOR UPDATE`, [
      tradeId,
    ]);
    return rows[0]?.state ?? null;
  }
}
