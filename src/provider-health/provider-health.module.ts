import { Module } from '@nestjs/common';
import { ProviderHealthRepository } from './provider-health.repository';
import { ProviderHealth } from './provider-health.service';

/**
 * Whether each payment provider is up. Below both trades and payments: the provider adapters report to it,
 * trades ask it and react to an outage's end; it imports neither.
 */
@Module({
  providers: [ProviderHealthRepository, ProviderHealth],
  exports: [ProviderHealth],
})
export class ProviderHealthModule {}
