import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Redis } from 'ioredis';
import { redisConfig } from '../../config';
import type { EventSink, RecordedEvent } from '../../events/event-sinks';
import { REDIS } from '../../redis/redis.module';

/**
 * What goes over Redis to the API processes: which event, its place in commit order, and whom it concerns; never its
 * data. `streamSeq` is absent only from a process of an earlier version.
 */
export interface PublishedEvent {
  id: string;
  streamSeq?: string;
  tradeId: string | null;
  recipients: RecordedEvent['recipients'];
}

/** The pub/sub channel of the streams, under the deployment's (or the test run's) own prefix. */
export function streamChannel(config: ConfigType<typeof redisConfig>): string {
  return `${config.keyPrefix}events:streams`;
}

/**
 * The streams' sink: publishes each event on Redis, where every API process's StreamHub hears it and sends it on the
 * streams it holds that concern it. A retried fan-out publishes again; each stream skips an id it already sent.
 */
@Injectable()
export class StreamSink implements EventSink {
  readonly name = 'streams';

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>,
  ) {}

  async deliver(event: RecordedEvent): Promise<void> {
    const published: PublishedEvent = { id: event.id, streamSeq: event.streamSeq, tradeId: event.tradeId, recipients: event.recipients };
    await this.redis.publish(streamChannel(this.config), JSON.stringify(published));
  }
}
