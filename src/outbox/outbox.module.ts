import { Global, Module } from '@nestjs/common';
import { OutboxPublisher } from './outbox.publisher';
import { OutboxRelay } from './outbox.relay';
import { OutboxRepository } from './outbox.repository';
import { OutboxService } from './outbox.service';

@Global()
@Module({
  providers: [OutboxRepository, OutboxService, OutboxRelay, OutboxPublisher],
  exports: [OutboxService, OutboxRepository, OutboxRelay, OutboxPublisher],
})
export class OutboxModule {}
