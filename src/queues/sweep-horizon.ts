/**
 * How far ahead a deadline's delayed job is queued, for deadlines a periodic sweep also watches (a trade's funding
 * and payout deadlines, a request's expiry). A deadline due within the horizon gets its job when it is set; a later
 * one gets it from its sweep, which at every run queues the jobs of the deadlines falling due within the horizon,
 * under the same job id. Nearly every trade ends long before its deadlines, so most never have a job at all, and
 * the jobs that are queued wait minutes, not hours or days.
 *
 * The horizon is two sweep periods plus half a period (at least a second): a deadline past the horizon when set
 * is offered by at least two sweeps before it falls due, so one sweep that runs late or fails does not make it
 * late, and the half period leaves the job's way to Redis time to spare. At the defaults (a sweep a minute) it is
 * 150 s. A number of milliseconds that may pass 2^31: it is only compared and used as an interval in SQL, never a
 * timer.
 */
export function sweepHorizonMs(sweepEveryMs: number): number {
  return 2 * sweepEveryMs + Math.max(Math.ceil(sweepEveryMs / 2), 1000);
}

/** Whether a deadline set `windowMs` from now gets its job at once, rather than from a sweep as it nears. */
export function queuedWhenSet(windowMs: number, sweepEveryMs: number): boolean {
  return windowMs <= sweepHorizonMs(sweepEveryMs);
}

/** A place in deadlines read soonest first: the deadline as PostgreSQL prints it (no precision lost), and its row's id. */
export interface NearingCursor {
  due: string;
  id: string;
}

/** Before every deadline. */
export const NEARING_START: NearingCursor = { due: '-infinity', id: '00000000-0000-0000-0000-000000000000' };
