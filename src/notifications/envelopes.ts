import { Injectable } from '@nestjs/common';
import { MessagesReader } from '../chat/messages-reader';
import type { AuthUser } from '../common/auth/auth-user';
import type { StoredEvent } from '../events/event-types';
import { EventsRepository } from '../events/events.repository';
import { HandleReveals } from '../trades/handle-reveals.service';
import { TradeReadsRepository } from '../trades/trade-reads.repository';

/** Who an envelope is built for: a recipient of the event, or an operator following a trade's stream. */
export interface EnvelopeViewer {
  userId: string;
  role: 'traveler' | 'counterparty' | 'operator';
}

/** What a stream sends as `data:` and a webhook as its body (API.md). */
export interface Envelope {
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}

/**
 * Turns a stored event into the envelope one viewer receives, at send time: the stored data (no payment handle, no
 * message text), with the traveler's WeChat id added to the trade only for the trade's counterparty and only while
 * the trade is `funded` or `payout_sent` now, through HandleReveals (the showing is recorded as for
 * `GET /v1/trades/:id`), and, for the trade's parties, a message event's message as the chat has it now (its text
 * gone once erased).
 */
@Injectable()
export class EnvelopeBuilder {
  constructor(
    private readonly events: EventsRepository,
    private readonly trades: TradeReadsRepository,
    private readonly reveals: HandleReveals,
    private readonly messages: MessagesReader,
  ) {}

  /** Null when the event is unknown (purged after its retention). */
  async forRecipient(eventId: string, viewer: EnvelopeViewer): Promise<Envelope | null> {
    const event = await this.events.find(eventId);
    return event ? this.of(event, viewer) : null;
  }

  async of(event: StoredEvent, viewer: EnvelopeViewer): Promise<Envelope> {
    const data: Record<string, unknown> = { ...event.data };
    if (viewer.role === 'counterparty' && event.tradeId && data.trade) {
      const handle = await this.handleFor(event.tradeId, viewer.userId);
      if (handle !== undefined) data.trade = { ...(data.trade as Record<string, unknown>), travelerWechatId: handle };
    }
    // An operator following a trade's stream sees that a message was sent, never its text: operators read a chat
    // only through its audited route, and only once the trade had a dispute.
    if (event.messageId && viewer.role !== 'operator') {
      const message = await this.messages.forEvent(event.messageId);
      if (message) data.message = message;
    }
    return { id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data };
  }

  /** The traveler's WeChat id if GET /v1/trades/:id would show it to this viewer now (and that showing recorded). */
  private async handleFor(tradeId: string, viewerId: string): Promise<string | undefined> {
    const trade = await this.trades.find(tradeId);
    if (!trade || trade.counterpartyId !== viewerId) return undefined;
    const viewer: AuthUser = { id: viewerId, role: 'counterparty', tier: 0, suspended: false, via: 'jwt' };
    return (await this.reveals.present(viewer, trade)).travelerWechatId;
  }
}
