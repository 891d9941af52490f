import { DynamicModule, Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
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
      providers: workers ? [HousekeepingProcessor, HousekeepingScheduler] : [],
    };
  }
}
