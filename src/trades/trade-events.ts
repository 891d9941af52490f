import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { EventLog } from '../events/event-log';
import type { EventRecipient, EventType } from '../events/event-types';
import type { NewEvent } from '../events/events.repository';
import type { NewOutboxRow } from '../outbox/outbox.repository';
import type { OutboxMessage } from '../outbox/outbox.service';
import { presentTrade } from './trade.presenter';
import type { TradeState } from './trade.state-machine';
import type { Trade } from './trade.types';
import { TradesRepository } from './trades.repository';

/** A trade's two parties, who receive each of its events. */
export function tradeRecipients(trade: Pick<Trade, 'travelerId' | 'counterpartyId'>): EventRecipient[] {
  return [
    { userId: trade.travelerId, role: 'traveler' },
    { userId: trade.counterpartyId, role: 'counterparty' },
  ];
}

/** The event of a transition: `trade.<state it entered>`. */
export function stateEventType(to: Exclude<TradeState, 'awaiting_funding'>): EventType {
  return `trade.${to}`;
}

/**
 * What the parties of a trade are told of it (streams, webhooks), recorded in the change's transaction: the trade's
 * view as of the change (`presentTrade` without any handle: the counterparty's copy gets one at send time only).
 */
@Injectable()
export class TradeEvents {
  constructor(
    private readonly log: EventLog,
    private readonly trades: TradesRepository,
  ) {}

  /** One event about `trade`, as the caller's transaction has it now; `data` adds to the trade's view (a dispute). */
  record(
    manager: EntityManager,
    type: EventType,
    trade: Trade,
    extra: { disputeId?: string; messageId?: string; data?: Record<string, unknown>; jobs?: OutboxMessage[] } = {},
  ): Promise<string> {
    return this.log.record(manager, {
      type,
      tradeId: trade.id,
      disputeId: extra.disputeId,
      messageId: extra.messageId,
      data: { trade: presentTrade(trade), ...(extra.data ?? {}) },
      recipients: tradeRecipients(trade),
      jobs: extra.jobs,
    });
  }

  /**
   * The `trade.created` event of a trade opened in one autocommit statement (`TradeOpeningRepository.openAtOnce`),
   * which writes it: `trade` as decided, its times (`createdAt`, `updatedAt`, `fundingBy`) set by that statement
   * from the row it stores, so the data is `presentTrade` of the trade as committed.
   */
  prepareCreated(trade: Trade): { event: Omit<NewEvent, 'data'>; data: Record<string, unknown>; fanOut: NewOutboxRow } {
    return {
      ...this.log.prepare({ type: 'trade.created', tradeId: trade.id, recipients: tradeRecipients(trade) }),
      data: { trade: presentTrade(trade) },
    };
  }

  /**
   * A message posted on the trade: the trade as the caller's transaction has it, and the message's id only (its
   * text is read when the event is sent, so an erased text is never sent).
   */
  async recordMessage(manager: EntityManager, tradeId: string, messageId: string): Promise<void> {
    const trade = await this.trades.find(tradeId, manager);
    if (trade) await this.record(manager, 'trade.message', trade, { messageId });
  }

  /** The same event for each trade, each read in the caller's transaction (after the change that caused it). */
  async recordFor(manager: EntityManager, type: EventType, tradeIds: readonly string[]): Promise<void> {
    for (const id of tradeIds) {
      const trade = await this.trades.find(id, manager);
      if (trade) await this.record(manager, type, trade);
    }
  }
}
