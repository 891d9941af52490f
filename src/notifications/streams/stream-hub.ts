import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { safeErrorForLog } from '../../common/errors';
import { redisConfig } from '../../config';
import { redisOptions } from '../../redis/redis.module';
import { PublishedEvent, streamChannel } from './stream-sink';

/** A stream this process holds open. */
export interface HeldStream {
  /** Takes a published event; sends it if it concerns this stream. Never throws. */
  offer(event: PublishedEvent): void;
  /** Ends the stream (the server shutting down); resolves once it is cleaned up. */
  end(): Promise<void>;
}

/**
 * The streams this API process holds, and its one subscriber connection to Redis (a subscribed connection can do
 * nothing else, so it is its own). Whatever process committed an event, its fan-out publishes it, and every hub
 * hears it and offers it to its streams. Connected at the first stream, so a worker process holds no subscriber.
 */
@Injectable()
export class StreamHub implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(StreamHub.name);
  private readonly streams = new Set<HeldStream>();
  private subscriber?: Redis;
  private subscribed?: Promise<void>;

  constructor(@Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>) {}

  /** Holds a stream; once this resolves, every event published from now on is offered to it. */
  async hold(stream: HeldStream): Promise<void> {
    await this.subscribe();
    this.streams.add(stream);
  }

  release(stream: HeldStream): void {
    this.streams.delete(stream);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Streams end before the HTTP server closes: an open response would keep `app.close()` waiting for ever. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.streams].map((stream) => stream.end()));
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
    // No retry limit on a subscriber: ioredis reconnects and subscribes again by itself (events published while it
    // was away reach a client that reconnects with Last-Event-ID).
    const subscriber = new Redis({ ...redisOptions(this.config), maxRetriesPerRequest: null });
    subscriber.on('error', (error) => this.logger.warn({ error: safeErrorForLog(error) }, 'The streams’ Redis subscriber failed'));
    subscriber.on('message', (_channel: string, message: string) => this.dispatch(message));
    this.subscriber = subscriber;
    await subscriber.subscribe(streamChannel(this.config));
  }

  private dispatch(message: string): void {
    let event: PublishedEvent;
    try {
      event = JSON.parse(message) as PublishedEvent;
    } catch {
      return;
    }
    for (const stream of this.streams) stream.offer(event);
  }
}
