import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { IdempotencyFence } from './idempotency.fence';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';
import { IdempotentRoutes } from './idempotent-routes';

@Module({
  imports: [DiscoveryModule],
  // Not global: IdempotentRoutes puts the interceptor on the POST handlers only.
  providers: [IdempotencyRepository, IdempotencyFence, IdempotencyInterceptor, IdempotentRoutes],
  exports: [IdempotencyRepository],
})
export class IdempotencyModule {}
