import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { CryptoModule } from './common/crypto/crypto.module';
import { ProblemDetailsFilter } from './common/errors';
import { allConfigs, appConfig } from './config';
import { DatabaseModule } from './database/database.module';
import { logDestination, loggerOptions } from './logging';
import { MetricsModule } from './metrics/metrics.module';
import { OutboxModule } from './outbox/outbox.module';
import { QueuesModule } from './queues/queues.module';
import { RedisModule } from './redis/redis.module';
import { RuntimeModule } from './runtime';
import { SandboxModule } from './sandbox/sandbox.module';

/**
 * The provider mocks alone, as their own process (`npm run start:sandbox`): their routes, their tables, their
 * outbox and the workers that deliver their callbacks to the service, nothing of the service itself.
 */
@Module({})
export class SandboxAppModule {
  static register(): DynamicModule {
    return {
      module: SandboxAppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, load: allConfigs, ignoreEnvFile: true }),
        RuntimeModule.register(true, { mocksOnly: true }),
        LoggerModule.forRootAsync({
          inject: [appConfig.KEY],
          useFactory: (config: ConfigType<typeof appConfig>) => {
            const destination = logDestination(config);
            return {
              // The access line is one onResponse hook (createApp), as in the service: no middleware per request.
              forRoutes: [],
              pinoHttp: destination ? [loggerOptions(config), destination] : loggerOptions(config),
            };
          },
        }),
        DatabaseModule,
        RedisModule,
        QueuesModule,
        CryptoModule,
        OutboxModule,
        SandboxModule.register({ workers: true }),
        MetricsModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ProblemDetailsFilter }],
    };
  }
}
