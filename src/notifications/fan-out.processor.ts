import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { safeErrorForLog } from '../common/errors';
import { EVENT_SINKS, EventSink } from '../events/event-sinks';
import { EventsRepository } from '../events/events.repository';
import { HandlesJobs } from '../queues/job-handlers';
import { JOBS, QUEUES } from '../queues/queue-names';
import { FanOutMarks } from './fan-out-marks';
import { FanOutSweep } from './fan-out-sweep';

/**
 * Hands a committed event (numbered in commit order at its commit: its `stream_seq`) to every sink (streams, client
 * webhooks). A sink that fails fails the job, after the others had their turn; the retry hands the event to every
 * sink again, and each deduplicates by the event's id. Once every sink took it the job notes so in Redis, and the
 * sweep marks it fanned out with others in one statement, then leaves it alone. The job commits nothing itself.
 */
@HandlesJobs('events', [JOBS.events.fanOutEvent, JOBS.events.sweepFanOut])
@Processor(QUEUES.events)
export class FanOutProcessor extends WorkerHost {
  private readonly logger = new Logger(FanOutProcessor.name);

  constructor(
    private readonly events: EventsRepository,
    @Inject(EVENT_SINKS) private readonly sinks: EventSink[],
    private readonly sweeper: FanOutSweep,
    private readonly marks: FanOutMarks,
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
    const stored = await this.events.find(eventId);
    // Purged after its retention: nobody can be told any more.
    if (!stored) return { sinks: 0 };
    const { data: _data, seq: _seq, ...event } = stored;
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
    await this.marks.noteFannedOut(eventId);
    return { sinks: this.sinks.length };
  }
}
