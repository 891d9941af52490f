import { Module } from '@nestjs/common';
import { RATE_FEED_FAULTS, RateFeedFaults } from '../rates/rate-feed.port';
import { FaultsRepository } from './faults.repository';
import { FaultsService } from './faults.service';

/** The mock rate feed's faults, handed down to the rates module (which never imports the sandbox). */
@Module({
  providers: [
    FaultsRepository,
    FaultsService,
    {
      provide: RATE_FEED_FAULTS,
      inject: [FaultsService],
      useFactory:
        (faults: FaultsService): RateFeedFaults =>
        () =>
          faults.next('rates'),
    },
  ],
  exports: [RATE_FEED_FAULTS],
})
export class SandboxRateFaultsModule {}
