import { DynamicModule, Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';
import { RatingsController } from './ratings.controller';
import { RatingsRepository } from './ratings.repository';
import { RatingsService } from './ratings.service';

/**
 * Trade ratings. Imports trades (a trade's parties and state) and users (the reputation counters); account
 * privacy, above it, exports and erases them.
 */
@Module({})
export class RatingsModule {
  static register(options: { trades: DynamicModule }): DynamicModule {
    return {
      module: RatingsModule,
      imports: [options.trades, UsersModule],
      controllers: [RatingsController],
      providers: [RatingsRepository, RatingsService],
      exports: [RatingsRepository, RatingsService],
    };
  }
}
