import { Global, Module } from '@nestjs/common';
import { OutboxPublisher } from './outbox.publisher';
import { OutboxRelay } from './outbox.relay';
import { OutboxRepository } from './outbox.repository';
import { OutboxService } from './outbox.service';
import { PublisherQueues } from './publisher-queues';

@Global()
@Module({
  providers: [OutboxRepository, OutboxService, OutboxRelay, OutboxPublisher, PublisherQueues],
  exports: [OutboxService, OutboxRepository, OutboxRelay, OutboxPublisher, PublisherQueues],
})
export class OutboxModule {}
