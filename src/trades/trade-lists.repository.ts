import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { TradeState } from './trade.state-machine';
import type { TradePosition } from './trade-position';
import { ListedRow, ListedTrade, POSITION, TRADE_COLUMNS, toListedTrade } from './trade-rows';

/** Pages of trades, newest first: a party's own (its list, its account export) and the operators'. */
@Injectable()
export class TradeListsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The caller's trades, newest first. A user's trades are those it travels in and those it counters: each is
   * a backward walk of its own index from the cursor, at most one page long, and the two are merged. So a page
   * costs the same with a million trades in the table as with ten.
   *
   * The party is a range of one value and leads each walk's order: only the party's own index gives that order,
   * so the walk stays on it whatever share of all trades the party has. Written as `= $1`, the party drops out of
   * the order, and for a party with most of the trades PostgreSQL walked `trades_created_idx` instead, filtering
   * every newer trade of everyone's by its row (600 rows a page behind 560 newer trades at a million); and a generic
   * plan of that form walked it whole on the side with no rows (1.3 s). This form's generic plan walks the two indexes.
   */
  async listForUser(userId: string, states: TradeState[] | undefined, limit: number, after?: TradePosition): Promise<ListedTrade[]> {
    const side = (column: string) => `
      (SELECT ${TRADE_COLUMNS}, ${POSITION} FROM trades
        WHERE ${column} >= $1 AND ${column} <= $1 AND ($2::text[] IS NULL OR state = ANY($2::text[]))
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
        ORDER BY ${column} DESC, created_at DESC, id DESC LIMIT $5)`;
    const rows: ListedRow[] = await this.dataSource.query(
      `SELECT * FROM (${side('traveler_id')} UNION ALL ${side('counterparty_id')}) AS mine ORDER BY created_at DESC, id DESC LIMIT $5`,
      [userId, states ?? null, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    return rows.map(toListedTrade);
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
}
