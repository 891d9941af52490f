import { DynamicModule, Module } from '@nestjs/common';
import { EndpointSlots } from './endpoint-slots';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookEndpointsService } from './webhook-endpoints.service';
import { WebhookSweep } from './webhook-sweep';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksScheduler } from './webhooks.scheduler';

/**
 * Client webhooks: the endpoints' API and (in processes with workers) the deliveries. Their sink in the event
 * fan-out (`WebhookSink`) is listed with the others in NotificationsModule, whose EnvelopeBuilder builds each body.
 */
@Module({})
export class WebhooksModule {
  static register(options: { workers: boolean; envelopes: DynamicModule }): DynamicModule {
    return {
      module: WebhooksModule,
      imports: [options.envelopes],
      controllers: [WebhooksController],
      providers: [
        WebhooksRepository,
        WebhookEndpointsService,
        ...(options.workers ? [EndpointSlots, WebhookDeliveryService, WebhookDeliveryProcessor, WebhookSweep, WebhooksScheduler] : []),
      ],
      exports: [WebhooksRepository],
    };
  }
}
