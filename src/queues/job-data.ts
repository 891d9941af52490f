import type { Job } from 'bullmq';

/**
 * A string field of a job's data. Jobs are queued by this service alone, so one without it is malformed: it fails
 * (and its retries fail the same) rather than act on nothing.
 */
export function jobString(job: Job, field: string): string {
  const value = (job.data as Record<string, unknown> | null | undefined)?.[field];
  if (typeof value !== 'string') throw new Error(`${job.name} needs a ${field}`);
  return value;
}
