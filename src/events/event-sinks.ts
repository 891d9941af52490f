import type { Provider, Type } from '@nestjs/common';
import type { RecordedEvent } from './event-types';

export type { RecordedEvent } from './event-types';

/**
 * Where a recorded event goes after its commit: the `fan-out-event` job hands it to every sink. A retried job may
 * hand it to a sink twice, so each sink deduplicates (by the event's id) or is harmless when repeated (delivery to
 * clients is at least once).
 */
export interface EventSink {
  name: string;
  deliver(event: RecordedEvent): Promise<void>;
}

/** Every sink, as one array (Nest has no multi-providers): built by `eventSinksProvider` from the sinks' classes. */
export const EVENT_SINKS = Symbol('EVENT_SINKS');

/** The `EVENT_SINKS` provider of the listed sink classes (each also provided by its module). */
export function eventSinksProvider(...sinks: Type<EventSink>[]): Provider {
  return { provide: EVENT_SINKS, useFactory: (...instances: EventSink[]) => instances, inject: sinks };
}
