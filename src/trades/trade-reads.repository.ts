import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { TradeState } from './trade.state-machine';
import type { Trade, TradeEvent } from './trade.types';
import type { TradePosition } from './trade-position';
import type { ListedTrade } from './trade-rows';
import { TimelineRepository } from './timeline.repository';
import { TradeListsRepository } from './trade-lists.repository';
import { TradesRepository } from './trades.repository';

/**
 * What other modules read of trades and nothing more: one trade (disputes, operators), the operators' list, a
 * user's trades with their timelines (the account export), and the lock an operator's settlement retry takes
 * in the trades lock order. A trade changes only through the trades module's transitions.
 */
@Injectable()
export class TradeReadsRepository {
  constructor(
    private readonly trades: TradesRepository,
    private readonly lists: TradeListsRepository,
    private readonly timeline: TimelineRepository,
  ) {}

  find(id: string, manager?: EntityManager): Promise<Trade | null> {
    return this.trades.find(id, manager);
  }

  /** The trade when the user is one of its parties; null otherwise, so a stranger cannot tell it exists. */
  async findForParty(userId: string, id: string): Promise<Trade | null> {
    const trade = await this.trades.find(id);
    return trade && (userId === trade.travelerId || userId === trade.counterpartyId) ? trade : null;
  }

  /** The trade's state, its row locked for the rest of the caller's transaction. */
  lockState(manager: EntityManager, tradeId: string): Promise<TradeState | null> {
    return this.trades.lockState(manager, tradeId);
  }

  /** Trades for operators, newest first: by state and by the settlement flag. */
  listForOperators(
    filter: { state?: TradeState; settlementFailing?: boolean },
    limit: number,
    after?: TradePosition,
  ): Promise<ListedTrade[]> {
    return this.lists.listForOperators(filter, limit, after);
  }

  /** All of a user's trades, newest first, a page at a time. */
  listForUser(userId: string, limit: number, after?: TradePosition): Promise<ListedTrade[]> {
    return this.lists.listForUser(userId, undefined, limit, after);
  }

  /** The whole timelines of these trades, each oldest first. */
  eventsOfTrades(tradeIds: string[]): Promise<(TradeEvent & { tradeId: string })[]> {
    return this.timeline.eventsOfTrades(tradeIds);
  }
}
