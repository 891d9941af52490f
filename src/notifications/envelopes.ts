import { Injectable } from '@nestjs/common';

/** What a stream sends as `data:` and a webhook as its body (API.md). */
export interface Envelope {
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
 * Builds an event's envelope for one recipient at send time; null when the event is unknown (purged after its
 * retention). Only its signature lives here until the event log arrives: no event but a ping (which needs none) is
 * delivered before then.
 */
@Injectable()
export class EnvelopeBuilder {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  forRecipient(eventId: string, viewer: EnvelopeViewer): Promise<Envelope | null> {
    return Promise.resolve(null);
  }
}
