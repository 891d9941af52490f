import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { safeErrorForLog } from '../common/errors';
import { eventsConfig } from '../config';
import { EVENT_SINKS, EventSink } from '../events/event-sinks';
import { EventsRepository } from '../events/events.repository';
import { OutboxPublisher } from '../outbox/outbox.publisher';
import { JOBS, QUEUES } from '../queues/queue-names';
import { FanOutMarks } from './fan-out-marks';
import { StreamHub } from './streams/stream-hub';

/**
 * Hands a committed event (numbered in commit order at its commit: its `stream_seq`) to every sink (streams, client
 * webhooks). A sink that fails fails the fan-out, after the others had their turn; the next try hands the event to
 * every sink again, and each deduplicates by the event's id. Once every sink took it the event is noted in Redis
 * (with the process's other notes of the moment, `FanOutMarks`), and the sweep marks it fanned out with others in one
 * statement, then leaves it alone. Commits nothing itself.
 *
 * Every process (API-only ones too) fans out the events it commits itself, right after the commit
 * (`OutboxPublisher.runFirst`): no job, so none of BullMQ's adds, fetches and completions for it. The `fan-out-event`
 * job is the fallback: queued when the fan-out here fails or takes too long, published by the relay when the
 * process died first, queued again by the sweep when both were lost.
 */
@Injectable()
export class EventFanOut implements OnModuleInit {
  private readonly logger = new Logger(EventFanOut.name);

  constructor(
    private readonly events: EventsRepository,
    @Inject(EVENT_SINKS) private readonly sinks: EventSink[],
    private readonly marks: FanOutMarks,
    private readonly publisher: OutboxPublisher,
    private readonly hub: StreamHub,
    @Inject(eventsConfig.KEY) private readonly config: ConfigType<typeof eventsConfig>,
  ) {}

  onModuleInit(): void {
    if (this.config.fanOutAfterCommit) {
      this.publisher.runFirst(QUEUES.events, JOBS.events.fanOutEvent, async ({ payload }) => {
        await this.fanOut(String(payload.eventId));
        return { done: true };
      });
    }
  }

  async fanOut(eventId: string): Promise<{ sinks: number }> {
    const stored = await this.events.findToFanOut(eventId);
    // Purged after its retention: nobody can be told any more.
    if (!stored) return { sinks: 0 };
    // This process's own streams send it from here when they hear it published (the sinks never carry its data).
    this.hub.fannedOut(stored);
    const { data: _data, seq: _seq, ...event } = stored;
    const failed: string[] = [];
    for (const sink of this.sinks) {
      try {
        await sink.deliver(event);
      } catch (error) {
        failed.push(sink.name);
        this.logger.warn({ error: safeErrorForLog(error), sink: sink.name, eventId }, 'An event sink failed; the fan-out is tried again');
      }
    }
    if (failed.length > 0) throw new Error(`Event ${eventId} not delivered to: ${failed.join(', ')}`);
    this.marks.noteFannedOut(eventId);
    return { sinks: this.sinks.length };
  }
}
