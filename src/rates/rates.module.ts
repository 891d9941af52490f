import { DynamicModule, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { marketConfig } from '../config';
import { FaultsService } from '../sandbox/faults.service';
import { MockRateFeed } from './mock-rate-feed';
import { RATE_FEED } from './rate-feed.port';
import { RatesController } from './rates.controller';
import { RatesProcessor } from './rates.processor';
import { RatesRepository } from './rates.repository';
import { RatesScheduler } from './rates.scheduler';
import { RatesService } from './rates.service';
import { SandboxRatesController } from './sandbox-rates.controller';

@Module({})
export class RatesModule {
  static register(options: { workers: boolean; sandbox: boolean }): DynamicModule {
    return {
      module: RatesModule,
      controllers: [RatesController, ...(options.sandbox ? [SandboxRatesController] : [])],
      providers: [
        RatesRepository,
        RatesService,
        ...(options.sandbox ? [FaultsService] : []),
        {
          provide: RATE_FEED,
          inject: [marketConfig.KEY, { token: FaultsService, optional: true }],
          useFactory: (config: ConfigType<typeof marketConfig>, faults?: FaultsService) =>
            new MockRateFeed(
              {
                base: config.rateFeedBase,
                seed: config.rateFeedSeed,
                walkBps: config.rateFeedWalkBps,
                stepMs: config.rateFeedStepMs,
              },
              Date.now,
              faults ? () => faults.next('rates') : undefined,
            ),
        },
        ...(options.workers ? [RatesProcessor, RatesScheduler] : []),
      ],
      exports: [RatesService],
    };
  }
}
