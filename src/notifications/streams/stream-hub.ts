import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { DomainError, safeErrorForLog } from '../../common/errors';
import { redisConfig } from '../../config';
import { redisOptions } from '../../redis/redis.module';
import type { StoredEvent } from '../../events/event-types';
import { HeardNumbers } from './heard-numbers';
import { PublishedEvent, streamChannel } from './stream-sink';

/**
 * What the hub knows of a published event beside the message: the `low` of the run of numbers heard before it
 * (`HeardNumbers`: null when one below it is missing) and, when this process fanned it out a moment ago, the event
 * itself, with its data.
 */
export interface HeardEvent {
  gaplessFrom: bigint | null;
  stored: StoredEvent | undefined;
}

/** A stream this process holds open. */
export interface HeldStream {
  /** Takes a published event; sends it if it concerns this stream. Never throws. */
  offer(event: PublishedEvent, heard?: HeardEvent): void;
  /** Ends the stream (the server shutting down); resolves once it is cleaned up. */
  end(): Promise<void>;
}

/** When a client refused for a subscriber away, or a server closing, tries again. */
const RETRY_AFTER_SECONDS = 2;
/** How long, and how many, events this process fanned out are kept for its own streams (they are heard in milliseconds). */
const FANNED_OUT_HERE_MS = 10_000;
const FANNED_OUT_HERE_MAX = 2000;

/**
 * The streams this API process holds, and its one subscriber connection to Redis (a subscribed connection can do
 * nothing else, so it is its own). Whatever process committed an event, its fan-out publishes it, and every hub
 * hears it and offers it to its streams. Connected at the first stream, so a worker process holds no subscriber.
 *
 * Pub/sub keeps nothing for a subscriber that is away: when the connection drops, every stream held ends (its
 * client reconnects with `Last-Event-ID` and is replayed what was published meanwhile), and no stream is held until
 * the subscription is back. Nor once the application is shutting down: a stream held then would never be ended.
 */
@Injectable()
export class StreamHub implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(StreamHub.name);
  private readonly streams = new Set<HeldStream>();
  private subscriber?: Redis;
  private subscribed?: Promise<void>;
  /** Subscribed now: every event published is heard. */
  private listening = false;
  private closing = false;
  /** The numbers heard since the subscription was last (re)made. */
  private heard = new HeardNumbers();
  /** Events this process fanned out, with their data, until its streams have heard them (oldest first). */
  private readonly fannedOutHere = new Map<string, { event: StoredEvent; until: number }>();

  constructor(@Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>) {}

  /** Holds a stream; once this resolves, every event published from now on is offered to it. */
  async hold(stream: HeldStream): Promise<void> {
    if (this.closing) throw DomainError.unavailable('The server is shutting down; reconnect', RETRY_AFTER_SECONDS);
    await this.subscribe();
    if (this.closing) throw DomainError.unavailable('The server is shutting down; reconnect', RETRY_AFTER_SECONDS);
    if (!this.listening) throw DomainError.unavailable('Event streams are reconnecting; try again shortly', RETRY_AFTER_SECONDS);
    this.streams.add(stream);
  }

  release(stream: HeldStream): void {
    this.streams.delete(stream);
  }

  get size(): number {
    return this.streams.size;
  }

  /**
   * An event this process is fanning out, with its data: kept a moment (only while it holds streams), so that its
   * streams can send it when heard without reading it back.
   */
  fannedOut(event: StoredEvent): void {
    if (this.streams.size === 0) return;
    const now = Date.now();
    for (const [id, kept] of this.fannedOutHere) {
      if (kept.until > now && this.fannedOutHere.size < FANNED_OUT_HERE_MAX) break;
      this.fannedOutHere.delete(id);
    }
    this.fannedOutHere.set(event.id, { event, until: now + FANNED_OUT_HERE_MS });
  }

  /** Streams end before the HTTP server closes: an open response would keep `app.close()` waiting for ever. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.endAll();
  }

  async onApplicationShutdown(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  private subscribe(): Promise<void> {
    this.subscribed ??= this.connect().catch((error) => {
      this.subscribed = undefined;
      throw error;
    });
    return this.subscribed;
  }

  private async connect(): Promise<void> {
    // No retry limit on a subscriber: ioredis reconnects by itself; streams are held again once it has subscribed.
    const subscriber = new Redis({
      ...redisOptions(this.config),
      maxRetriesPerRequest: null,
      connectionName: `${this.config.keyPrefix}streams-subscriber`,
    });
    subscriber.on('error', (error) => this.logger.warn({ error: safeErrorForLog(error) }, 'The streams’ Redis subscriber failed'));
    subscriber.on('message', (_channel: string, message: string) => this.dispatch(message));
    for (const lost of ['close', 'reconnecting', 'end']) subscriber.on(lost, () => this.lost());
    // After a reconnection (ioredis subscribes again by itself, without waiting): listening once that is confirmed.
    subscriber.on('ready', () => {
      if (this.subscriber === subscriber && !this.listening) void this.listen(subscriber).catch(() => undefined);
    });
    this.subscriber = subscriber;
    await this.listen(subscriber);
  }

  private async listen(subscriber: Redis): Promise<void> {
    await subscriber.subscribe(streamChannel(this.config));
    if (subscriber.status === 'ready') this.listening = true;
  }

  /** The subscriber dropped: whatever is published until it is back is never heard, so every stream ends now. */
  private lost(): void {
    const wasListening = this.listening;
    this.listening = false;
    // What is published while away is never heard: the run of heard numbers starts again.
    this.heard = new HeardNumbers();
    if (wasListening && this.streams.size > 0) {
      this.logger.warn({ streams: this.streams.size }, 'The streams’ Redis subscriber dropped; open streams end and their clients replay');
    }
    void this.endAll();
  }

  private async endAll(): Promise<void> {
    await Promise.all([...this.streams].map((stream) => stream.end()));
  }

  private dispatch(message: string): void {
    let event: PublishedEvent;
    try {
      event = JSON.parse(message) as PublishedEvent;
    } catch {
      return;
    }
    let gaplessFrom: bigint | null = null;
    try {
      if (event.streamSeq !== undefined) gaplessFrom = this.heard.hear(BigInt(event.streamSeq));
    } catch {
      return;
    }
    const heard: HeardEvent = { gaplessFrom, stored: this.fannedOutHere.get(event.id)?.event };
    for (const stream of this.streams) stream.offer(event, heard);
  }
}
