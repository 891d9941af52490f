import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { webhooksConfig } from '../../config';
import type { EventSink, RecordedEvent } from '../../events/event-sinks';
import { OutboxService } from '../../outbox/outbox.service';
import { deliveryJob } from './delivery-job';
import { WebhooksRepository } from './webhooks.repository';
import { Transactions } from '../../database/transactions';

/**
 * The event log's webhook sink: each recipient's enabled endpoints whose filter takes the event get a delivery
 * row and its job, in one transaction. A retried fan-out adds nothing: one delivery per endpoint and event.
 * The body is built when each attempt is sent, for that recipient.
 */
@Injectable()
export class WebhookSink implements EventSink {
  readonly name = 'webhooks';

  constructor(
    private readonly transactions: Transactions,
    private readonly webhooks: WebhooksRepository,
    private readonly outbox: OutboxService,
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
  ) {}

  async deliver(event: RecordedEvent): Promise<void> {
    if (event.recipients.length === 0) return;
    // Most events have no endpoint to go to: no transaction for them (the fan-out read that with the event). One
    // registered after that read was not registered when the event was fanned out, as if the insert below had run first.
    if (!(event.webhookEndpoint ?? (await this.webhooks.anyEndpointFor(event)))) return;
    await this.transactions.run(async (manager) => {
      const deliveries = await this.webhooks.fanOut(manager, event);
      for (const id of deliveries) await this.outbox.write(manager, deliveryJob(id, this.config));
    });
  }
}
