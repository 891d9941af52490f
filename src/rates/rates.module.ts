import { DynamicModule, Module, Provider } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { appConfig, marketConfig } from '../config';
import { parseRate } from '../common/money';
import { FaultsService } from '../sandbox/faults.service';
import { HttpRateFeed } from './http-rate-feed';
import { MockRateFeed } from './mock-rate-feed';
import { MOCK_RATE_FEED, RATE_FEED, RateFeed } from './rate-feed.port';
import { RatesController } from './rates.controller';
import { RatesProcessor } from './rates.processor';
import { RatesRepository } from './rates.repository';
import { RatesScheduler } from './rates.scheduler';
import { RatesService } from './rates.service';
import { SandboxRatesController } from './sandbox-rates.controller';

const mockFeed = (config: ConfigType<typeof marketConfig>, faults?: FaultsService) =>
  new MockRateFeed(
    { base: config.rateFeedBase, seed: config.rateFeedSeed, walkBps: config.rateFeedWalkBps, stepMs: config.rateFeedStepMs },
    Date.now,
    faults ? () => faults.next('rates') : undefined,
  );

@Module({})
export class RatesModule {
  static register(options: { workers: boolean; sandbox: boolean }): DynamicModule {
    const feeds: Provider[] = [
      {
        provide: RATE_FEED,
        inject: [marketConfig.KEY, appConfig.KEY, { token: MOCK_RATE_FEED, optional: true }],
        useFactory: (config: ConfigType<typeof marketConfig>, app: ConfigType<typeof appConfig>, mock?: RateFeed): RateFeed => {
          if (config.rateFeedUrl) {
            return new HttpRateFeed({
              url: config.rateFeedUrl,
              timeoutMs: config.rateFeedTimeoutMs,
              minRate: parseRate(config.rateFeedMinRate),
              maxRate: parseRate(config.rateFeedMaxRate),
              caFile: config.rateFeedCaFile,
            });
          }
          // Configuration refuses this already; the module never hands production the mock whatever it is given.
          if (app.production) throw new Error('RATE_FEED_URL must be set in production');
          return mock ?? mockFeed(config);
        },
      },
    ];
    if (options.sandbox) {
      feeds.push(FaultsService, {
        provide: MOCK_RATE_FEED,
        inject: [marketConfig.KEY, FaultsService],
        useFactory: mockFeed,
      });
    }
    return {
      module: RatesModule,
      controllers: [RatesController, ...(options.sandbox ? [SandboxRatesController] : [])],
      providers: [RatesRepository, RatesService, ...feeds, ...(options.workers ? [RatesProcessor, RatesScheduler] : [])],
      exports: [RatesService],
    };
  }
}
