import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { HandlesJobs } from '../queues/job-handlers';
import { JOBS, QUEUES } from '../queues/queue-names';
import { EventFanOut } from './event-fan-out';
import { FanOutSweep } from './fan-out-sweep';

/**
 * The event fan-out's fallback job (`EventFanOut`: the committing process fans its events out itself) and the
 * fan-out sweep. A sink that fails fails the job, which is retried (`FAN_OUT_RETRY`).
 */
@HandlesJobs('events', [JOBS.events.fanOutEvent, JOBS.events.sweepFanOut])
@Processor(QUEUES.events)
export class FanOutProcessor extends WorkerHost {
  constructor(
    private readonly fanOut: EventFanOut,
    private readonly sweeper: FanOutSweep,
  ) {
    super();
  }

  async process(job: Job<{ eventId: string }>): Promise<{ sinks: number } | { requeued: number }> {
    switch (job.name) {
      case JOBS.events.fanOutEvent:
        return this.fanOut.fanOut(job.data.eventId);
      case JOBS.events.sweepFanOut:
        return this.sweeper.sweep();
      default:
        throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.events}`);
    }
  }
}
