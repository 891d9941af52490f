import { DynamicModule, Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { MessageRetentionRepository } from '../chat/message-retention.repository';
import { HandleRetentionRepository } from '../trades/handle-retention.repository';
import { UsersModule } from '../users/users.module';
import { HousekeepingProcessor } from './housekeeping.processor';
import { HousekeepingScheduler } from './housekeeping.scheduler';

@Module({})
export class HousekeepingModule {
  /** The processor and its schedule exist only in processes that run workers. */
  static register(workers: boolean): DynamicModule {
    return {
      module: HousekeepingModule,
      imports: [IdempotencyModule, UsersModule],
      // The handle and message retentions' SQL needs nothing but the database: provided here, where the sweeps run.
      providers: workers ? [HousekeepingProcessor, HousekeepingScheduler, HandleRetentionRepository, MessageRetentionRepository] : [],
    };
  }
}
