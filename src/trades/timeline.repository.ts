import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { SqlParams } from '../common/database/query';
import type { TradeEvent } from './trade.types';

/** The INSERT of one timeline event of the trade whose id is the parameter `tradeId`, alone or as a CTE. */
export function tradeEventInsertSql(tradeId: string, event: Omit<TradeEvent, 'at'>, params: SqlParams): string {
  return `INSERT INTO trade_events (trade_id, actor_kind, actor_id, type, from_state, to_state, detail)
          VALUES (${tradeId}, ${params.add(event.actor.kind)}, ${params.add(event.actor.id)}, ${params.add(event.type)},
                  ${params.add(event.fromState)}, ${params.add(event.toState)}, ${params.add(event.detail)})`;
}

/**
 * The INSERT of a transition's `state_changed` event, as a CTE over `source`, the CTE of the conditional update that
 * returns the moved trade (`id`, `previous_state`): written only if the trade moved, with the state it truly left.
 */
export function stateChangedInsertSql(source: string, to: string, actor: TradeEvent['actor'], detail: object, params: SqlParams): string {
  return `INSERT INTO trade_events (trade_id, actor_kind, actor_id, type, from_state, to_state, detail)
          SELECT id, ${params.add(actor.kind)}, ${params.add(actor.id)}, 'state_changed', previous_state, ${to}, ${params.add(detail)}
            FROM ${source}`;
}

/** An event's columns, named and shaped as TradeEvent has them (bigserial ids come back as text). */
const EVENT_COLUMNS = `at, json_build_object('kind', actor_kind, 'id', actor_id) AS actor, type, from_state AS "fromState",
  to_state AS "toState", detail`;

/** A trade's timeline: the rows every module writes as its state or its story changes, and their reads. */
@Injectable()
export class TimelineRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insertEvent(manager: EntityManager, tradeId: string, event: Omit<TradeEvent, 'at'>): Promise<void> {
    const params = new SqlParams();
    await manager.query(tradeEventInsertSql(params.add(tradeId), event, params), params.values);
  }

  async events(tradeId: string, limit: number, afterId?: string): Promise<(TradeEvent & { id: string })[]> {
    return this.dataSource.query(
      `SELECT id, ${EVENT_COLUMNS} FROM trade_events
          WHERE trade_id = $1 AND ($2::bigint IS NULL OR id > $2::bigint) ORDER BY id LIMIT $3`,
      [tradeId, afterId ?? null, limit],
    );
  }

  /** The whole timelines of these trades, each oldest first (the account export: one read per page of trades). */
  async eventsOfTrades(tradeIds: string[]): Promise<(TradeEvent & { tradeId: string })[]> {
    return this.dataSource.query(
      `SELECT trade_id AS "tradeId", ${EVENT_COLUMNS} FROM trade_events WHERE trade_id = ANY($1::uuid[]) ORDER BY trade_id, id`,
      [tradeIds],
    );
  }
}
