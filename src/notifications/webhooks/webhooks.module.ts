import { DynamicModule, Module } from '@nestjs/common';
import { EnvelopeBuilder } from '../envelopes';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookEndpointsService } from './webhook-endpoints.service';
import { WebhookSink } from './webhook-sink';
import { WebhookSweep } from './webhook-sweep';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';

/**
 * Client webhooks: the endpoints' API, the event log's sink, and (in processes with workers) the deliveries.
 * `envelopes` is the module that provides EnvelopeBuilder (the event log's notifications module); without it,
 * the builder's placeholder, which knows no event, stands in.
 */
@Module({})
export class WebhooksModule {
  static register(options: { workers: boolean; envelopes?: DynamicModule }): DynamicModule {
    return {
      module: WebhooksModule,
      imports: options.envelopes ? [options.envelopes] : [],
      controllers: [WebhooksController],
      providers: [
        WebhooksRepository,
        WebhookEndpointsService,
        WebhookSink,
        ...(options.envelopes ? [] : [EnvelopeBuilder]),
        ...(options.workers ? [WebhookDeliveryService, WebhookDeliveryProcessor, WebhookSweep] : []),
      ],
      // WebhookSink joins the event fan-out's sinks (`eventSinksProvider` in events/event-sinks.ts) where the fan-out is wired.
      exports: [WebhooksRepository, WebhookSink],
    };
  }
}
