import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { DynamicModule, Module, Provider, RequestMethod } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { AdminModule } from './admin/admin.module';
import { queueDashboardModules } from './admin/queue-dashboard';
import { AuditModule } from './audit/audit.module';
import { AuthenticationGuard } from './common/auth/authentication.guard';
import { AuthorizationGuard } from './common/auth/authorization.guard';
import type { AuthUser } from './common/auth/auth-user';
import { CryptoModule } from './common/crypto/crypto.module';
import { ProblemDetailsFilter } from './common/errors';
import { allConfigs, appConfig, httpConfig, loadAppConfig, loadHttpConfig } from './config';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { HousekeepingModule } from './housekeeping/housekeeping.module';
import { IdempotencyModule } from './idempotency/idempotency.module';
import { loggerOptions } from './logging';
import { MarketModule } from './market/market.module';
import { MetricsModule } from './metrics/metrics.module';
import { OutboxModule } from './outbox/outbox.module';
import { DisputesModule } from './disputes/disputes.module';
import { PaymentsModule } from './payments/payments.module';
import { QueuesModule } from './queues/queues.module';
import { RedisModule, THROTTLER_REDIS } from './redis/redis.module';
import { RatesModule } from './rates/rates.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { RuntimeModule } from './runtime';
import { SandboxModule } from './sandbox/sandbox.module';
import { TradesModule } from './trades/trades.module';
import { AccountPrivacyModule } from './users/account-privacy.module';
import { UsersModule } from './users/users.module';

export interface AppModuleOptions {
  /** Run BullMQ workers and the outbox relay in this process. */
  workers: boolean;
}

@Module({})
export class AppModule {
  static register(options: AppModuleOptions): DynamicModule {
    const sandbox = loadAppConfig().sandbox;
    const rates = RatesModule.register({ workers: options.workers, sandbox });
    const market = MarketModule.register({ workers: options.workers, rates });
    const trades = TradesModule.register({ workers: options.workers, market, rates });
    const disputes = DisputesModule.register({ trades });
    const payments = PaymentsModule.register({ workers: options.workers, trades, disputes });
    // Guards run in this order: 401, then the limiter (per IP, and per user once known), then 403 role, then 403 suspended.
    const guards: Provider[] = [{ provide: APP_GUARD, useClass: AuthenticationGuard }];
    if (loadHttpConfig().rateLimitEnabled) guards.push({ provide: APP_GUARD, useClass: ThrottlerGuard });
    guards.push({ provide: APP_GUARD, useClass: AuthorizationGuard });

    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, load: allConfigs, ignoreEnvFile: true }),
        RuntimeModule.register(options.workers),
        LoggerModule.forRootAsync({
          inject: [appConfig.KEY],
          useFactory: (config: ConfigType<typeof appConfig>) => ({
            // The default route pattern never matches on Fastify with Nest 12; this one does.
            forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
            pinoHttp: config.logFile
              ? [loggerOptions(config), pino.destination({ dest: config.logFile, sync: true })]
              : loggerOptions(config),
          }),
        }),
        ThrottlerModule.forRootAsync({
          inject: [httpConfig.KEY, THROTTLER_REDIS],
          useFactory: (http: ConfigType<typeof httpConfig>, redis: Redis) => ({
            throttlers: [
              {
                name: 'ip',
                ttl: http.rateLimitWindowMs,
                limit: http.rateLimitPerIp,
                getTracker: (req: Record<string, unknown>) => String(req.ip),
              },
              {
                name: 'user',
                ttl: http.rateLimitWindowMs,
                limit: http.rateLimitPerUser,
                getTracker: (req: Record<string, unknown>) => (req.user as AuthUser | undefined)?.id ?? String(req.ip),
                skipIf: (context) => !context.switchToHttp().getRequest<{ user?: AuthUser }>().user,
              },
            ],
            // Given a client, the storage leaves closing it to its owner (RedisModule).
            storage: new ThrottlerStorageRedisService(redis),
          }),
        }),
        DatabaseModule,
        RedisModule,
        QueuesModule,
        ...queueDashboardModules(),
        CryptoModule,
        OutboxModule,
        IdempotencyModule,
        HousekeepingModule.register(options.workers),
        AuditModule,
        UsersModule,
        AdminModule.register({ trades }),
        rates,
        market,
        trades,
        HealthModule,
        payments,
        ReconciliationModule.register({ workers: options.workers, payments }),
        disputes,
        AccountPrivacyModule.register({ rates, market, trades, disputes }),
        ...(sandbox ? [SandboxModule.register({ workers: options.workers })] : []),
        MetricsModule,
      ],
      providers: [...guards, { provide: APP_FILTER, useClass: ProblemDetailsFilter }],
    };
  }
}
