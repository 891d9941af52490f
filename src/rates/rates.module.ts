import { DynamicModule, Module, Provider, Type } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { appConfig, marketConfig } from '../config';
import { parseRate } from '../common/money';
import { HttpRateFeed } from './http-rate-feed';
import { MockRateFeed } from './mock-rate-feed';
import { MOCK_RATE_FEED, RATE_FEED, RATE_FEED_FAULTS, RateFeed, RateFeedFaults } from './rate-feed.port';
import { RatesController } from './rates.controller';
import { RatesProcessor } from './rates.processor';
import { RatesRepository } from './rates.repository';
import { RatesScheduler } from './rates.scheduler';
import { RatesService } from './rates.service';
import { SandboxRatesController } from './sandbox-rates.controller';

const mockFeed = (config: ConfigType<typeof marketConfig>, faults?: RateFeedFaults) =>
  new MockRateFeed(
    { base: config.rateFeedBase, seed: config.rateFeedSeed, walkBps: config.rateFeedWalkBps, stepMs: config.rateFeedStepMs },
    Date.now,
    faults,
  );

@Module({})
export class RatesModule {
  /** `sandboxFaults`, in sandbox mode: the module that provides `RATE_FEED_FAULTS` for the mock feed. */
  static register(options: { workers: boolean; sandbox: boolean; sandboxFaults?: Type }): DynamicModule {
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
      feeds.push({
        provide: MOCK_RATE_FEED,
        inject: [marketConfig.KEY, { token: RATE_FEED_FAULTS, optional: true }],
        useFactory: mockFeed,
      });
    }
    return {
      module: RatesModule,
      imports: options.sandbox && options.sandboxFaults ? [options.sandboxFaults] : [],
      controllers: [RatesController, ...(options.sandbox ? [SandboxRatesController] : [])],
      providers: [RatesRepository, RatesService, ...feeds, ...(options.workers ? [RatesProcessor, RatesScheduler] : [])],
      exports: [RatesService],
    };
  }
}
