import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { safeErrorForLog } from '../common/errors';
import { eventsConfig, redisConfig } from '../config';
import { REDIS } from '../redis/redis.module';

/** The longest a note waits in its process for others to go to Redis with it. */
const NOTE_LINGER_MAX_MS = 1000;
/** Notes held while Redis refuses them, at most: past that they are dropped, and the sweep fans their events out again. */
const PENDING_LIMIT = 10000;

/**
 * Events every sink took, noted in Redis by their fan-outs (a sorted set by time) until the fan-out sweep writes their
 * `fanned_out_at` in one statement per batch: a fan-out commits nothing of its own. Each process sends its notes in one
 * ZADD a linger (at most a second, and a tenth of EVENT_FAN_OUT_SWEEP_AFTER_MS, so the sweep never takes a noted event
 * for a lost one), not one round trip an event. Redis is a cache of work: a note lost with it, or with a process that
 * died before sending it, leaves its event unmarked, and the sweep fans it out again (sinks deduplicate by its id).
 */
@Injectable()
export class FanOutMarks implements OnApplicationShutdown {
  private readonly logger = new Logger(FanOutMarks.name);
  private readonly lingerMs: number;
  /** Noted here, not yet in Redis: event id → when. */
  private pending = new Map<string, number>();
  /** Sent, its ZADD not answered yet: still noted for `isNoted`. */
  private readonly inFlight = new Set<string>();
  private timer?: NodeJS.Timeout;
  private sending: Promise<void> = Promise.resolve();
  /** Past the shutdown's flush: a note made now (a fan-out still settling) is left to the sweep, not kept on a timer. */
  private closed = false;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>,
    @Inject(eventsConfig.KEY) events: ConfigType<typeof eventsConfig>,
  ) {
    this.lingerMs = Math.min(NOTE_LINGER_MAX_MS, Math.floor(events.fanOutSweepAfterMs / 10));
  }

  noteFannedOut(eventId: string): void {
    if (this.closed) return;
    if (this.pending.size >= PENDING_LIMIT) {
      this.logger.warn({ eventId }, 'Fan-out notes are full while Redis refuses them; the sweep fans this event out again');
      return;
    }
    this.pending.set(eventId, Date.now());
    this.arm();
  }

  /** Sends this process's notes now; resolves once they (and any sent before) reached Redis or were given up. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      this.sending = this.sending.then(() => this.send(batch));
    }
    return this.sending;
  }

  /** Up to `limit` noted events, oldest first (this process's own sent first); they stay noted until `forget`. */
  async oldest(limit: number): Promise<string[]> {
    await this.flush();
    return this.redis.zrange(this.key(), 0, limit - 1);
  }

  async isNoted(eventId: string): Promise<boolean> {
    return this.pending.has(eventId) || this.inFlight.has(eventId) || (await this.redis.zscore(this.key(), eventId)) !== null;
  }

  async forget(eventIds: string[]): Promise<void> {
    if (eventIds.length > 0) await this.redis.zrem(this.key(), ...eventIds);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** The linger's timer, not holding the process open: what it would send at exit is the sweep's anyway. */
  private arm(): void {
    this.timer ??= setTimeout(() => void this.flush(), this.lingerMs).unref();
  }

  private async send(batch: Map<string, number>): Promise<void> {
    const members: (string | number)[] = [];
    for (const [eventId, at] of batch) {
      members.push(at, eventId);
      this.inFlight.add(eventId);
    }
    try {
      await this.redis.zadd(this.key(), ...members);
    } catch (error) {
      this.logger.warn({ error: safeErrorForLog(error), events: batch.size }, 'Fan-out notes could not be sent to Redis');
      // Kept for the next linger, as far as there is room: Redis may be back by then (not once shut down).
      if (!this.closed) {
        for (const [eventId, at] of batch) if (this.pending.size < PENDING_LIMIT) this.pending.set(eventId, at);
        if (this.pending.size > 0) this.arm();
      }
    } finally {
      for (const eventId of batch.keys()) this.inFlight.delete(eventId);
    }
  }

  private key(): string {
    return `${this.config.keyPrefix}events:fanned-out`;
  }
}
