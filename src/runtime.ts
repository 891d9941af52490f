import { DynamicModule, Global, Module } from '@nestjs/common';

/** Whether this process runs the BullMQ workers and the outbox relay (the API does by default; `worker.ts` always). */
export const WORKERS_ENABLED = 'WORKERS_ENABLED';

/** Whether this process serves the provider mocks only (`npm run start:sandbox`), none of the service. */
export const MOCKS_ONLY = 'MOCKS_ONLY';

@Global()
@Module({})
export class RuntimeModule {
  static register(workers: boolean, options: { mocksOnly?: boolean } = {}): DynamicModule {
    return {
      module: RuntimeModule,
      providers: [
        { provide: WORKERS_ENABLED, useValue: workers },
        { provide: MOCKS_ONLY, useValue: options.mocksOnly ?? false },
      ],
      exports: [WORKERS_ENABLED, MOCKS_ONLY],
    };
  }
}
