import { DynamicModule, Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
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
      // The handle retention's SQL needs nothing but the database: provided here, where the sweep runs.
      providers: workers ? [HousekeepingProcessor, HousekeepingScheduler, HandleRetentionRepository] : [],
    };
  }
}
