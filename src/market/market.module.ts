import { DynamicModule, Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';
import { ListingCache } from './listing-cache';
import { MarketProcessor } from './market.processor';
import { MarketRepository } from './market.repository';
import { MarketScheduler } from './market.scheduler';
import { OffersController } from './offers.controller';
import { OffersService } from './offers.service';
import { PriceGuard } from './price-guard';
import { RequestsController } from './requests.controller';
import { RequestsService } from './requests.service';

@Module({})
export class MarketModule {
  static register(options: { workers: boolean; rates: DynamicModule }): DynamicModule {
    return {
      module: MarketModule,
      imports: [UsersModule, options.rates],
      controllers: [RequestsController, OffersController],
      providers: [
        MarketRepository,
        ListingCache,
        RequestsService,
        OffersService,
        PriceGuard,
        ...(options.workers ? [MarketProcessor, MarketScheduler] : []),
      ],
      exports: [MarketRepository, ListingCache, RequestsService, OffersService],
    };
  }
}
