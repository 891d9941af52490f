import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { HandleField } from './handle-reveals.repository';
import { TimelineRepository } from './timeline.repository';
import { SYSTEM_ACTOR, type Actor, type TradeEvent } from './trade.types';
import type { TradeState } from './trade.state-machine';

/** What a transition tells the parties beside its states: a reason, the transfer reported, the decision, ... */
export type StateChangedDetail = Record<string, unknown>;

/** An operator's action on the trade: what they did, and what it was about (never a handle or message text). */
export type OperatorNoteDetail = { action: string; disputeId?: string } & Record<string, unknown>;

/** What a payment provider did with the trade's money, as the parties may see it. */
export interface ProviderEventDetail {
  provider: 'paypal' | 'bank_transfer';
  transferId?: string;
  attempt?: number;
  payout?: string | null;
  refund?: string;
  received?: string;
  amountUsd?: string;
  returningUsd?: string;
  returnedUsd?: string;
}

/** A deadline pushed back by a provider's outage, once per trade, deadline and outage. */
export interface DeadlineExtendedDetail {
  deadline: 'funding' | 'payout' | 'verify';
  provider: 'paypal' | 'bank' | 'wechat';
  byMs: number;
  until: string;
  outageFrom: string;
}

/** A statement added to the trade's dispute; a system's finding is the only text the timeline carries. */
export interface DisputeStatementDetail {
  disputeId: string;
  statementId: string;
  finding?: string;
  attachments?: number;
}

/** A payment handle an operator read (the field and who, never the value). */
export interface HandleRevealedDetail {
  field: HandleField;
  to: 'operator';
  operatorId: string;
  state: TradeState;
}

/**
 * The one way a trade's timeline is written: one method per kind of event, each with its detail typed, all in the
 * caller's transaction. The first event of a trade is written with it by `TradesRepository.openTrade`.
 */
@Injectable()
export class TradeTimeline {
  constructor(private readonly events: TimelineRepository) {}

  stateChanged(
    manager: EntityManager,
    tradeId: string,
    actor: Actor,
    from: TradeState,
    to: TradeState,
    detail: StateChangedDetail,
  ): Promise<void> {
    return this.write(manager, tradeId, { actor, type: 'state_changed', fromState: from, toState: to, detail });
  }

  operatorNote(manager: EntityManager, tradeId: string, operatorId: string, detail: OperatorNoteDetail): Promise<void> {
    return this.note(manager, tradeId, { kind: 'operator', id: operatorId }, 'operator_note', detail);
  }

  providerEvent(manager: EntityManager, tradeId: string, detail: ProviderEventDetail): Promise<void> {
    return this.note(manager, tradeId, SYSTEM_ACTOR, 'provider_event', detail);
  }

  deadlineExtended(manager: EntityManager, tradeId: string, detail: DeadlineExtendedDetail): Promise<void> {
    return this.note(manager, tradeId, SYSTEM_ACTOR, 'deadline_extended', detail);
  }

  disputeStatement(manager: EntityManager, tradeId: string, actor: Actor, detail: DisputeStatementDetail): Promise<void> {
    return this.note(manager, tradeId, actor, 'dispute_statement', detail);
  }

  handleRevealed(manager: EntityManager, tradeId: string, operatorId: string, detail: HandleRevealedDetail): Promise<void> {
    return this.note(manager, tradeId, { kind: 'operator', id: operatorId }, 'handle_revealed', detail);
  }

  /** An event beside the states: the trade's state is what it was. */
  private note(manager: EntityManager, tradeId: string, actor: Actor, type: TradeEvent['type'], detail: object): Promise<void> {
    return this.write(manager, tradeId, { actor, type, fromState: null, toState: null, detail: { ...detail } });
  }

  private write(manager: EntityManager, tradeId: string, event: Omit<TradeEvent, 'at'>): Promise<void> {
    return this.events.insertEvent(manager, tradeId, event);
  }
}
