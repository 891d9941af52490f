/** Numbers heard above the contiguous run before a gap is given up on: a number never published leaves one for ever. */
const MAX_AHEAD = 1000;

/**
 * The events' numbers (`stream_seq`) this process has heard published, as one contiguous run `(low, high]` and the
 * numbers heard above it. `hear` answers, for each number as it is heard, the `low` of a run that held every number
 * below it (so every one of them was heard, and offered to the streams held, before it), or null when one below it is
 * still missing. A stream whose position is at or above that `low` has been offered every event numbered between its
 * position and the new one, so it may send the new one without reading the log for others.
 */
export class HeardNumbers {
  private low: bigint | null = null;
  private high = 0n;
  private readonly ahead = new Set<bigint>();

  hear(n: bigint): bigint | null {
    if (this.low === null) return this.restart(n);
    // Heard again (a retried fan-out), or below the run: gapless only within the run.
    if (n <= this.high) return n > this.low ? this.low : null;
    if (n === this.high + 1n) {
      this.high = n;
      while (this.ahead.delete(this.high + 1n)) this.high += 1n;
      return this.low;
    }
    this.ahead.add(n);
    // A gap that never fills (a number taken by a transaction that then failed, an event whose fan-out was lost until
    // the sweep): start a new run at the newest number rather than hold the old one for ever.
    return this.ahead.size > MAX_AHEAD ? this.restart(n) : null;
  }

  /** A new run of one number: nothing below it is known to have been heard. */
  private restart(n: bigint): bigint {
    this.ahead.clear();
    this.low = n - 1n;
    this.high = n;
    return this.low;
  }
}
