import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { DomainError } from '../common/errors';
import { tradesConfig } from '../config';
import { MarketRepository } from '../market/market.repository';
import { OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { assertTransition, sourcesOf, TradeState } from './trade.state-machine';
import type { Actor, Trade, TransitionEffects } from './trade.types';
import type { DeadlineColumn, EndingLocks } from './trades.repository';
import { TradesRepository } from './trades.repository';
import { settleJobId } from '../queues/job-ids';
import { keepTrying } from '../queues/retry-policies';
import { StateChangedDetail, TradeTimeline } from './trade-timeline';
import { stateEventType, TradeEvents } from './trade-events';
import { ReputationCountersRepository } from '../users/reputation-counters.repository';

type MovedTrade = Trade & { previousState: TradeState };

/**
 * The one way a trade's state changes, shared by the party actions and the transitions other modules drive:
 * `assertTransition` against SPEC.md's table, the conditional update with the transition's typed effects, its
 * timeline event and the parties' `trade.<state>` event, all in the caller's transaction. With them, what an end without completion gives back
 * and the settlement job a decided trade queues.
 */
@Injectable()
export class TradeMoves {
  constructor(
    private readonly trades: TradesRepository,
    private readonly timeline: TradeTimeline,
    private readonly counters: ReputationCountersRepository,
    private readonly market: MarketRepository,
    private readonly outbox: OutboxService,
    private readonly events: TradeEvents,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /**
   * One transition through the state machine: a conditional update, then its timeline event. A trade no
   * longer in a state it may leave from is refused with 409 `invalid_state_transition` naming its state.
   */
  async move(
    manager: EntityManager,
    trade: Trade,
    to: TradeState,
    actor: Actor,
    detail: StateChangedDetail,
    effects: TransitionEffects = {},
  ): Promise<MovedTrade> {
    const moved = await this.apply(manager, trade, to, actor, detail, effects);
    if (!moved) {
      const current = await this.trades.find(trade.id, manager);
      throw new DomainError('invalid_state_transition', `The trade is ${current?.state}`, { state: current?.state });
    }
    return moved;
  }

  /**
   * A deadline's transition: the same check, update and event, the update also requiring the deadline passed by
   * PostgreSQL's clock, read under the row lock, so an extension committed since the caller looked is kept.
   * Null when it has not passed or the trade has moved on: a deadline run twice does nothing the second time.
   */
  moveWhenDue(
    manager: EntityManager,
    trade: Trade,
    to: TradeState,
    actor: Actor,
    detail: StateChangedDetail,
    due: DeadlineColumn,
  ): Promise<MovedTrade | null> {
    return this.apply(manager, trade, to, actor, detail, {}, due);
  }

  private async apply(
    manager: EntityManager,
    trade: Trade,
    to: TradeState,
    actor: Actor,
    detail: StateChangedDetail,
    effects: TransitionEffects,
    due?: DeadlineColumn,
  ): Promise<MovedTrade | null> {
    assertTransition(trade.state, to, actor.kind);
    const moved = await this.trades.transition(manager, trade.id, sourcesOf(to, actor.kind), to, effects, due);
    if (!moved) return null;
    await this.timeline.stateChanged(manager, trade.id, actor, moved.previousState, to, detail);
    // `to` is never awaiting_funding: no transition enters it (a trade's first state is told as `trade.created`).
    await this.events.record(manager, stateEventType(to as Exclude<TradeState, 'awaiting_funding'>), moved);
    return moved;
  }

  /**
   * What every end without completion does: the amount back to its request or offer, the volume back to its day,
   * the counter of who ended it. Only with `lockForEnding`'s locks, taken before the transition.
   */
  async endUncompleted(manager: EntityManager, { trade }: EndingLocks, responsibleUserId: string | null): Promise<void> {
    const reservation = await this.trades.takeBackReservation(manager, trade.id);
    if (reservation?.requestId) await this.market.returnToRequest(manager, reservation.requestId, reservation.amountCny);
    if (reservation?.offerId) await this.market.returnToOffer(manager, reservation.offerId, reservation.amountCny);
    await this.trades.giveBackVolume(manager, [trade.travelerId, trade.counterpartyId], trade.volumeDay, trade.amountUsd);
    if (responsibleUserId) await this.counters.countFailedTrade(manager, responsibleUserId);
  }

  /** A decided trade's money moves at the provider: the settlement job takes it from here. */
  async queueSettlement(manager: EntityManager, tradeId: string, state: 'releasing' | 'refunding' | 'splitting'): Promise<void> {
    await this.outbox.write(manager, {
      queue: QUEUES.settlement,
      jobName: JOBS.settlement.settleTrade,
      jobId: settleJobId(tradeId, state),
      payload: { tradeId },
      retry: keepTrying(this.config.providerPollEveryMs),
    });
  }

  /** The trade, read in the caller's transaction; 404 when there is none. */
  async require(manager: EntityManager, tradeId: string): Promise<Trade> {
    const trade = await this.trades.find(tradeId, manager);
    if (!trade) throw DomainError.notFound('Trade');
    return trade;
  }
}
