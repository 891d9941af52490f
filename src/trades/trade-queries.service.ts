import type { EntityManager } from 'typeorm';
import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { Cursors } from '../common/http/cursors';
import { Page, readPage } from '../common/http/pagination';
import { ListTradesQuery, TradeEventView, TradeView } from './dto/trades.dto';
import { HandleReveals } from './handle-reveals.service';
import { presentEvent } from './trade.presenter';
import { isTradeCursor } from './trade-position';
import { tradesPage } from './trades-page';
import type { Trade } from './trade.types';
import { TradeListsRepository } from './trade-lists.repository';
import { TradesRepository } from './trades.repository';
import { TimelineRepository } from './timeline.repository';

const isEventCursor = (v: unknown): v is { e: string } =>
  typeof (v as { e?: unknown })?.e === 'string' && /^\d{1,18}$/.test((v as { e: string }).e);

/**
 * What the parties read of their trades (`GET /v1/trades`, a trade, its timeline), and the two rules every
 * answer about one trade follows: only its parties and operators see it, and a payment handle is shown only
 * as `HandleReveals` allows.
 */
@Injectable()
export class TradeQueriesService {
  constructor(
    private readonly trades: TradesRepository,
    private readonly lists: TradeListsRepository,
    private readonly timeline: TimelineRepository,
    private readonly reveals: HandleReveals,
    private readonly cursors: Cursors,
  ) {}

  async list(caller: AuthUser, query: ListTradesQuery): Promise<Page<TradeView>> {
    return tradesPage(query, this.cursors.of('trades', isTradeCursor), (limit, after) =>
      this.lists.listForUser(caller.id, query.state ? [query.state] : undefined, limit, after),
    );
  }

  async get(caller: AuthUser, id: string): Promise<TradeView> {
    return this.present(caller, await this.visible(caller, id));
  }

  async events(caller: AuthUser, id: string, query: { limit?: number; cursor?: string }): Promise<Page<TradeEventView>> {
    await this.visible(caller, id);
    return readPage(
      query,
      // One trade's timeline: a cursor of another trade's is not this list's.
      this.cursors.of(`trade-events:${id}`, isEventCursor),
      (limit, after) => this.timeline.events(id, limit, after?.e),
      presentEvent,
      (row) => ({ e: row.id }),
    );
  }

  /** 404 for anyone but its parties and operators. */
  async visible(caller: AuthUser, id: string): Promise<Trade> {
    const trade = await this.trades.find(id);
    if (!trade || (caller.role !== 'operator' && caller.id !== trade.travelerId && caller.id !== trade.counterpartyId))
      throw DomainError.notFound('Trade');
    return trade;
  }

  /** The traveler's WeChat id reaches only the trade's counterparty, and only while the RMB must be sent (recorded). */
  present(caller: AuthUser, trade: Trade): Promise<TradeView> {
    return this.reveals.present(caller, trade);
  }

  /** `present` for the change that just put the trade in its state, in its transaction (`HandleReveals.presentChanged`). */
  presentChanged(manager: EntityManager, caller: AuthUser, trade: Trade): Promise<TradeView> {
    return this.reveals.presentChanged(manager, caller, trade);
  }
}
