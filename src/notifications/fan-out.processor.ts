import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { safeErrorForLog } from '../common/errors';
import { EVENT_SINKS, EventSink } from '../events/event-sinks';
import { EventsRepository } from '../events/events.repository';
import { HandlesJobs } from '../queues/job-handlers';
import { JOBS, QUEUES } from '../queues/queue-names';
import { FanOutSweep } from './fan-out-sweep';

/**
 * Hands a committed event to every sink (streams, client webhooks), after numbering it in commit order (its
 * `stream_seq`, which stream replays follow: published live only once numbered). A sink that fails fails the job,
 * after the others had their turn; the retry hands the event to every sink again, and each deduplicates by the
 * event's id. Once every sink took it the event is marked fanned out, and the sweep leaves it alone.
 */
@HandlesJobs('events', [JOBS.events.fanOutEvent, JOBS.events.sweepFanOut])
@Processor(QUEUES.events)
export class FanOutProcessor extends WorkerHost {
  private readonly logger = new Logger(FanOutProcessor.name);

  constructor(
    private readonly events: EventsRepository,
    @Inject(EVENT_SINKS) private readonly sinks: EventSink[],
    private readonly sweeper: FanOutSweep,
  ) {
    super();
  }

  async process(job: Job<{ eventId: string }>): Promise<{ sinks: number } | { requeued: number }> {
    switch (job.name) {
      case JOBS.events.fanOutEvent:
        return this.fanOut(job.data.eventId);
      case JOBS.events.sweepFanOut:
        return this.sweeper.sweep();
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.events}`);
    }
  }

  private async fanOut(eventId: string): Promise<{ sinks: number }> {
    // Numbered (once) and read in one statement, before any sink sees it.
    const stored = await this.events.numberAndFind(eventId);
    // Purged after its retention: nobody can be told any more.
    if (!stored) return { sinks: 0 };
    const { data: _data, seq: _seq, streamSeq: _streamSeq, ...event } = stored;
    const failed: string[] = [];
    for (const sink of this.sinks) {
      try {
        await sink.deliver(event);
      } catch (error) {
        failed.push(sink.name);
        this.logger.warn({ error: safeErrorForLog(error), sink: sink.name, eventId }, 'An event sink failed; the fan-out is retried');
      }
    }
    if (failed.length > 0) throw new Error(`Event ${eventId} not delivered to: ${failed.join(', ')}`);
    await this.events.markFannedOut(eventId);
    return { sinks: this.sinks.length };
  }
}
