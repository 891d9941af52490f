import { Injectable } from '@nestjs/common';

/** What every event is sent as, on streams and webhooks alike. */
export interface EventEnvelope {
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}

export interface EnvelopeViewer {
  userId: string;
  role: 'traveler' | 'counterparty' | 'operator';
}

/**
 * Builds an event's envelope for one recipient at send time. Only its signature lives here until the event log
 * arrives; no event but a ping (which needs none) is delivered before then.
 */
@Injectable()
export class EnvelopeBuilder {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  forRecipient(eventId: string, viewer: EnvelopeViewer): Promise<EventEnvelope | null> {
    return Promise.resolve(null);
  }
}
