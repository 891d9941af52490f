import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { eventsConfig } from '../config';
import { EventsRepository } from '../events/events.repository';
import { fanOutEventJobId, fanOutEventSweepJobId } from '../queues/job-ids';
import { keepPeriodicJobs } from '../queues/periodic-jobs';
import { JOBS, QUEUES } from '../queues/queue-names';
import { FAN_OUT_RETRY } from '../queues/retry-policies';
import { FanOutMarks } from './fan-out-marks';

const BATCH = 500;
const MAX_BATCHES = 20;
/**
 * How long a run may spend writing marks: bounded by time, not batches, so that the marks never fall behind the
 * event rate and fill the recovery's scan (noted events not yet marked take its places).
 */
const MARKING_BUDGET_MS = 10000;
/** A job in one of these states still runs, or will: the event is left to it. */
const UNDER_WAY = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);

/** The fan-out sweep, registered by every worker process and kept (PeriodicJobs). */
export const FanOutScheduler = keepPeriodicJobs(QUEUES.events, [eventsConfig], (events) => [
  { name: JOBS.events.sweepFanOut, everyMs: events.fanOutSweepEveryMs },
]);

/**
 * First the bookkeeping: the events whose jobs noted them fanned out (`FanOutMarks`) get their `fanned_out_at`, a
 * batch per statement. Then the recovery. Redis is a cache of work: an event whose fan-out job was lost, or gave
 * up, has no `fanned_out_at` long after its commit. The sweep queues it again, once per
 * EVENT_FAN_OUT_SWEEP_AFTER_MS (the job id carries that round, so a failed copy BullMQ keeps does not stand in the
 * way), unless a copy is still under way or has just noted it. Idempotent: the sinks deduplicate by the event's id.
 */
@Injectable()
export class FanOutSweep {
  private readonly logger = new Logger(FanOutSweep.name);

  constructor(
    @InjectQueue(QUEUES.events) private readonly queue: Queue,
    private readonly events: EventsRepository,
    private readonly marks: FanOutMarks,
    @Inject(eventsConfig.KEY) private readonly config: ConfigType<typeof eventsConfig>,
  ) {}

  async sweep(): Promise<{ requeued: number }> {
    await this.markNoted();
    const round = Math.floor(Date.now() / this.config.fanOutSweepAfterMs);
    let requeued = 0;
    for (let i = 0; i < MAX_BATCHES; i += 1) {
      // Each batch starts after the last: an event left to a copy under way is not looked at again this run.
      const ids = await this.events.notFannedOut(this.config.fanOutSweepAfterMs, BATCH * (i + 1));
      const batch = ids.slice(BATCH * i);
      for (const id of batch) if (await this.requeue(id, round)) requeued += 1;
      if (batch.length < BATCH) break;
    }
    if (requeued > 0) this.logger.warn({ requeued }, 'Events whose fan-out had not finished were queued again');
    return { requeued };
  }

  /** Marks what the jobs noted, a batch a statement; a note is forgotten only once its mark is written. */
  private async markNoted(): Promise<void> {
    for (const until = Date.now() + MARKING_BUDGET_MS; Date.now() < until;) {
      const ids = await this.marks.oldest(BATCH);
      if (ids.length === 0) return;
      await this.events.markFannedOut(ids);
      await this.marks.forget(ids);
      if (ids.length < BATCH) return;
    }
  }

  private async requeue(eventId: string, round: number): Promise<boolean> {
    // Its job finished since the marks were written: the next sweep marks it.
    if (await this.marks.isNoted(eventId)) return false;
    for (const jobId of [fanOutEventJobId(eventId), fanOutEventSweepJobId(eventId, round - 1), fanOutEventSweepJobId(eventId, round)]) {
      const job = await this.queue.getJob(jobId);
      if (job && UNDER_WAY.has(await job.getState())) return false;
    }
    await this.queue.add(
      JOBS.events.fanOutEvent,
      { eventId },
      {
        jobId: fanOutEventSweepJobId(eventId, round),
        attempts: FAN_OUT_RETRY.attempts,
        backoff: { type: FAN_OUT_RETRY.backoffType === 'fixed' ? 'fixed' : 'exponential', delay: FAN_OUT_RETRY.backoffMs! },
      },
    );
    return true;
  }
}
