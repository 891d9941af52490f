/**
 * How far ahead a deadline's delayed job is queued. A deadline due within the horizon gets its job when it is set
 * (a trade opened, a trade funded); a later one gets it from the deadline sweeper, which at every run queues the
 * jobs of the deadlines falling due within the horizon. Nearly every trade ends long before its deadlines, so most
 * never have a job at all, and the jobs that are queued wait minutes, not hours.
 *
 * The horizon is two sweep periods plus half a period (at least a second): a deadline past the horizon when set
 * is thus offered by at least two sweeps before it falls due, so one sweep that runs late or fails does not make
 * it late, and the half period leaves the job's way to Redis time to spare. At the defaults (a sweep a minute) it
 * is 150 s: the funding windows (30 min, 24 h) and the payout window (30 min) are left to the sweeper.
 * A number of milliseconds that may pass 2^31: it is only compared and used as an interval in SQL, never a timer.
 */
export function deadlineHorizonMs(config: { deadlineSweepEveryMs: number }): number {
  const every = config.deadlineSweepEveryMs;
  return 2 * every + Math.max(Math.ceil(every / 2), 1000);
}

/** Whether a deadline set `windowMs` from now is queued as its job at once rather than by a later sweep. */
export function queuedWhenSet(windowMs: number, config: { deadlineSweepEveryMs: number }): boolean {
  return windowMs <= deadlineHorizonMs(config);
}
