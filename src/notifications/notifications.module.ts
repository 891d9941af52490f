import { DynamicModule, Module } from '@nestjs/common';
import { EVENT_SINKS, eventSinksProvider } from '../events/event-sinks';
import { UsersModule } from '../users/users.module';
import { EnvelopeBuilder } from './envelopes';
import { EventFanOut } from './event-fan-out';
import { FanOutMarks } from './fan-out-marks';
import { FanOutProcessor } from './fan-out.processor';
import { FanOutScheduler, FanOutSweep } from './fan-out-sweep';
import { EventStreams } from './streams/event-streams.service';
import { StreamHub } from './streams/stream-hub';
import { StreamLimiter } from './streams/stream-limiter';
import { StreamSink } from './streams/stream-sink';
import { StreamsController } from './streams/streams.controller';
import { WebhookSink } from './webhooks/webhook-sink';
import { WebhooksRepository } from './webhooks/webhooks.repository';

/**
 * Everything that sends events: the `fan-out-event` job (worker processes) hands each recorded event to every sink
 * in `EVENT_SINKS`; the streams (API processes) send what their sink publishes. Imports trades (the trade view, its
 * handle's showing, who may follow a trade) and chat (a message event's text, read when it is sent).
 */
@Module({})
export class NotificationsModule {
  static register(options: { workers: boolean; trades: DynamicModule; chat: DynamicModule }): DynamicModule {
    return {
      module: NotificationsModule,
      imports: [options.trades, options.chat, UsersModule],
      controllers: [StreamsController],
      providers: [
        EnvelopeBuilder,
        StreamSink,
        WebhooksRepository,
        WebhookSink,
        // Every sink, listed once here: the streams' and the client webhooks'.
        eventSinksProvider(StreamSink, WebhookSink),
        StreamHub,
        StreamLimiter,
        EventStreams,
        // Every process fans out the events it commits (the job only as the fallback).
        FanOutMarks,
        EventFanOut,
        ...(options.workers ? [FanOutProcessor, FanOutSweep, FanOutScheduler] : []),
      ],
      exports: [EnvelopeBuilder, EVENT_SINKS],
    };
  }
}
