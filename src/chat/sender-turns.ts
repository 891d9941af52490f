/**
 * Each sender's posts in this process one at a time, waiting here in memory before any takes a pooled connection.
 * Without it a burst from one sender holds as many connections as it has posts, all but one idle on the sender's
 * advisory lock, until the pool is exhausted for everyone. The advisory lock still orders the sender's posts across
 * processes and keeps the limit exact; this only keeps the waiting out of the pool.
 */
export class SenderTurns {
  private readonly queues = new Map<string, { last: Promise<void>; size: number }>();

  /**
   * Runs `work` once the sender's earlier posts in this process ended. With `max` already waiting or running it
   * returns `undefined` without running it: those alone may use up the sender's minute, so it could not count under
   * the limit anyway (unless some of them fail: then the client retries after Retry-After).
   */
  run<T>(senderId: string, max: number, work: () => Promise<T>): Promise<T> | undefined {
    const queue = this.queues.get(senderId) ?? { last: Promise.resolve(), size: 0 };
    if (queue.size >= max) return undefined;
    queue.size += 1;
    this.queues.set(senderId, queue);
    const result = queue.last.then(work);
    queue.last = result.then(
      () => this.leave(senderId, queue),
      () => this.leave(senderId, queue),
    );
    return result;
  }

  /** How many posts of the sender are waiting or running here (for tests and metrics). */
  inFlight(senderId: string): number {
    return this.queues.get(senderId)?.size ?? 0;
  }

  private leave(senderId: string, queue: { size: number }): void {
    queue.size -= 1;
    if (queue.size === 0) this.queues.delete(senderId);
  }
}
