/** Every event type a client may receive (API.md "Events: streams and client webhooks"), and the migration's CHECK. */
export const EVENT_TYPES = [
  'trade.created',
  'trade.funded',
  'trade.payout_sent',
  'trade.releasing',
  'trade.refunding',
  'trade.splitting',
  'trade.completed',
  'trade.refunded',
  'trade.settled_split',
  'trade.expired',
  'trade.cancelled',
  'trade.disputed',
  'trade.deadline_extended',
  'trade.settlement_failing',
  'trade.message',
  'dispute.opened',
  'dispute.statement_added',
  'dispute.resolved',
  'ping',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Who receives an event: a trade's two parties (operators receive none, but may follow a trade's stream). */
export type RecipientRole = 'traveler' | 'counterparty';

export interface EventRecipient {
  userId: string;
  role: RecipientRole;
}

/** What a sink is handed: the event without its data, which the envelope builder reads for each recipient at send time. */
export interface RecordedEvent {
  id: string;
  type: EventType;
  tradeId: string | null;
  disputeId: string | null;
  messageId: string | null;
  createdAt: Date;
  recipients: EventRecipient[];
  /** Its place in commit order, taken at its commit: streams send and replay by it. */
  streamSeq: string;
  /**
   * Read with the event for its fan-out: whether any recipient had a client webhook endpoint that takes it then.
   * Absent when not read with it (the webhook sink then reads it itself).
   */
  webhookEndpoint?: boolean;
}

/** An event as stored: with its data (no payment handle, no message text). */
export interface StoredEvent extends RecordedEvent {
  seq: string;
  data: Record<string, unknown>;
}
