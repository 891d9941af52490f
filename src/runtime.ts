import { DynamicModule, Global, Module } from '@nestjs/common';

/** Whether this process runs the BullMQ workers and the outbox relay (the API does by default; `worker.ts` always). */
export const WORKERS_ENABLED = 'WORKERS_ENABLED';

@Global()
@Module({})
export class RuntimeModule {
  static register(workers: boolean): DynamicModule {
    return { module: RuntimeModule, providers: [{ provide: WORKERS_ENABLED, useValue: workers }], exports: [WORKERS_ENABLED] };
  }
}
