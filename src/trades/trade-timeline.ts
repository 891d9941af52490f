import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { HandleField } from './handle-reveals.repository';
import { TimelineRepository } from './timeline.repository';
import { SYSTEM_ACTOR, type Actor, type TradeEvent } from './trade.types';
import type { TradeState } from './trade.state-machine';

/** Why a trade moved when no provider or decision did it: a party's action, a deadline, the platform. */
export type StateChangeReason =
  'cancelled_by_party' | 'receipt_confirmed' | 'self_trade' | 'funding_window_passed' | 'payout_window_passed';

/** The provider's ids of the USD now held in escrow. */
export type FundingConfirmedDetail =
  | { provider: 'paypal'; orderId: string; authorizationId: string }
  | { provider: 'bank_transfer'; reference: string | null; transferId: string };

/** The provider's ids of the payout that ended a release. */
export interface ReleaseCompletedDetail {
  provider: 'paypal' | 'bank_transfer';
  captureId?: string;
  payoutBatchId: string;
}

/** How the USD went back: a PayPal capture refunded or its authorization voided, or a bank return. */
export type RefundCompletedDetail =
  | { provider: 'paypal'; refundedCapture: string; refundId?: string }
  | { provider: 'paypal'; voided: string | null }
  | { provider: 'bank_transfer'; returnId?: string };

/** The provider's ids of both legs of a split. */
export interface SplitCompletedDetail {
  provider: 'paypal' | 'bank_transfer';
  refundId?: string;
  payoutBatchId: string;
}

/** A dispute's reason, as the disputes module words it (trades does not import disputes). */
export type DisputeOpenedReason = string;

/** What a transition tells the parties beside its states: one of the shapes the transitions write. */
export type StateChangedDetail =
  | { reason: StateChangeReason }
  | { wechatTransferId: string }
  | { verified: true; wechatTransferId: string }
  | { reason: 'transfer_found_before_refund'; wechatTransferId: string }
  | { reason: DisputeOpenedReason; disputeId: string }
  | { outcome: 'release' | 'refund' }
  | { outcome: 'split'; travelerUsd: string; counterpartyUsd: string }
  | FundingConfirmedDetail
  | ReleaseCompletedDetail
  | RefundCompletedDetail
  | (SplitCompletedDetail & { feeUsd: string });

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
 * caller's transaction. The first event of a trade is written with it by `TradesRepository.openTrade`, and each
 * `state_changed` event with its transition by `TradesRepository.transition`.
 */
@Injectable()
export class TradeTimeline {
  constructor(private readonly events: TimelineRepository) {}

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
