/** An event as the log recorded it, handed to every sink by the fan-out. */
export interface RecordedEvent {
  id: string;
  type: string;
  tradeId: string | null;
  disputeId: string | null;
  messageId: string | null;
  createdAt: Date;
  recipients: { userId: string; role: 'traveler' | 'counterparty' }[];
}

/** Where recorded events go (streams, webhooks). A retried fan-out may call a sink twice: sinks deduplicate. */
export interface EventSink {
  name: string;
  deliver(event: RecordedEvent): Promise<void>;
}

/** The multi-provider token every sink is registered under. */
export const EVENT_SINKS = 'EVENT_SINKS';
