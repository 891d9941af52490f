import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { DomainError } from '../common/errors';
import { tradesConfig } from '../config';
import { MarketRepository } from '../market/market.repository';
import type { OutboxMessage } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { assertTransition, sourcesOf, TradeState } from './trade.state-machine';
import type { Actor, Trade, TransitionEffects } from './trade.types';
import type { DeadlineColumn, EndingLocks } from './trades.repository';
import { TradesRepository } from './trades.repository';
import { settleJobId } from '../queues/job-ids';
import { keepTrying } from '../queues/retry-policies';
import type { StateChangedDetail } from './trade-timeline';
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
    private readonly counters: ReputationCountersRepository,
    private readonly market: MarketRepository,
    private readonly events: TradeEvents,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /**
   * One transition through the state machine, in two statements: the conditional update with its timeline event,
   * then the parties' event with its fan-out row and `jobs`, the outbox rows the transition queues. A trade no
   * longer in a state it may leave from is refused with 409 `invalid_state_transition` naming its state.
   */
  async move(
    manager: EntityManager,
    trade: Pick<Trade, 'id' | 'state'>,
    to: TradeState,
    actor: Actor,
    detail: StateChangedDetail,
    effects: TransitionEffects = {},
    jobs: OutboxMessage[] = [],
  ): Promise<MovedTrade> {
    assertTransition(trade.state, to, actor.kind);
    return this.moveUnread(manager, trade.id, to, actor, detail, effects, jobs);
  }

  /**
   * `move` for a caller that has not read the trade: the conditional update is the check (the states `to` may be
   * entered from by `actor`, from the state machine), and a refusal reads the trade for its 409.
   */
  async moveUnread(
    manager: EntityManager,
    tradeId: string,
    to: TradeState,
    actor: Actor,
    detail: StateChangedDetail,
    effects: TransitionEffects = {},
    jobs: OutboxMessage[] = [],
  ): Promise<MovedTrade> {
    const moved = await this.apply(manager, tradeId, to, actor, detail, effects, jobs);
    if (!moved) {
      const current = await this.trades.find(tradeId, manager);
      if (!current) throw DomainError.notFound('Trade');
      throw new DomainError('invalid_state_transition', `The trade is ${current.state}`, { state: current.state });
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
    jobs: OutboxMessage[] = [],
  ): Promise<MovedTrade | null> {
    assertTransition(trade.state, to, actor.kind);
    return this.apply(manager, trade.id, to, actor, detail, {}, jobs, due);
  }

  private async apply(
    manager: EntityManager,
    tradeId: string,
    to: TradeState,
    actor: Actor,
    detail: StateChangedDetail,
    effects: TransitionEffects,
    jobs: OutboxMessage[],
    due?: DeadlineColumn,
  ): Promise<MovedTrade | null> {
    const sources = sourcesOf(to, actor.kind);
    if (sources.length === 0) throw new Error(`No transition to ${to} by the ${actor.kind}`);
    const moved = await this.trades.transition(manager, tradeId, sources, to, { actor, detail: { ...detail } }, effects, due);
    if (!moved) return null;
    // `to` is never awaiting_funding: no transition enters it (a trade's first state is told as `trade.created`).
    await this.events.record(manager, stateEventType(to as Exclude<TradeState, 'awaiting_funding'>), moved, { jobs });
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

  /** A decided trade's money moves at the provider: the settlement job, queued with the transition, takes it from here. */
  settlementJob(tradeId: string, state: 'releasing' | 'refunding' | 'splitting'): OutboxMessage {
    return {
      queue: QUEUES.settlement,
      jobName: JOBS.settlement.settleTrade,
      jobId: settleJobId(tradeId, state),
      payload: { tradeId },
      retry: keepTrying(this.config.providerPollEveryMs),
    };
  }

  /** The trade, read in the caller's transaction; 404 when there is none. */
  async require(manager: EntityManager, tradeId: string): Promise<Trade> {
    const trade = await this.trades.find(tradeId, manager);
    if (!trade) throw DomainError.notFound('Trade');
    return trade;
  }
}
