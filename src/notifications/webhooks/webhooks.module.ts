import { DynamicModule, Module } from '@nestjs/common';
import { EVENT_SINKS } from '../../events/event-sinks';
import { EnvelopeBuilder } from '../envelopes';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookEndpointsService } from './webhook-endpoints.service';
import { WebhookSink } from './webhook-sink';
import { WebhookSweep } from './webhook-sweep';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';

/** Client webhooks: the endpoints' API, the event log's sink, and (in processes with workers) the deliveries. */
@Module({})
export class WebhooksModule {
  static register(options: { workers: boolean }): DynamicModule {
    return {
      module: WebhooksModule,
      controllers: [WebhooksController],
      providers: [
        WebhooksRepository,
        WebhookEndpointsService,
        WebhookSink,
        // The sinks the event fan-out calls; the streams' sink joins this list where the fan-out is wired.
        { provide: EVENT_SINKS, useFactory: (webhooks: WebhookSink) => [webhooks], inject: [WebhookSink] },
        EnvelopeBuilder,
        ...(options.workers ? [WebhookDeliveryService, WebhookDeliveryProcessor, WebhookSweep] : []),
      ],
      exports: [WebhooksRepository, WebhookSink, EVENT_SINKS],
    };
  }
}
