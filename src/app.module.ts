import { DynamicModule, Module, Provider } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import { LoggerModule } from 'nestjs-pino';
import { AdminModule } from './admin/admin.module';
import { queueDashboardModules } from './admin/queue-dashboard';
import { AuditModule } from './audit/audit.module';
import { AuthenticationGuard } from './common/auth/authentication.guard';
import { AuthorizationGuard } from './common/auth/authorization.guard';
import { CryptoModule } from './common/crypto/crypto.module';
import { ProblemDetailsFilter } from './common/errors';
import { AddressRateLimitGuard, rateLimitOptions, UserRateLimitGuard } from './common/http/rate-limit';
import { allConfigs, appConfig, httpConfig, loadAppConfig, loadHttpConfig, loadSandboxConfig } from './config';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { HousekeepingModule } from './housekeeping/housekeeping.module';
import { IdempotencyModule } from './idempotency/idempotency.module';
import { logDestination, loggerOptions } from './logging';
import { MarketModule } from './market/market.module';
import { MetricsModule } from './metrics/metrics.module';
import { WebhooksModule } from './notifications/webhooks/webhooks.module';
import { OutboxModule } from './outbox/outbox.module';
import { DisputesModule } from './disputes/disputes.module';
import { ChatModule } from './chat/chat.module';
import { ConsoleModule } from './console/console.module';
import { EventsModule } from './events/events.module';
import { NotificationsModule } from './notifications/notifications.module';
import { PaymentsModule } from './payments/payments.module';
import { QueuesModule } from './queues/queues.module';
import { RedisModule, THROTTLER_REDIS } from './redis/redis.module';
import { RatesModule } from './rates/rates.module';
import { RatingsModule } from './ratings/ratings.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { RuntimeModule } from './runtime';
import { SandboxRateFaultsModule } from './sandbox/sandbox-rate-faults.module';
import { SandboxModule } from './sandbox/sandbox.module';
import { TradesModule } from './trades/trades.module';
import { AccountPrivacyModule } from './account-privacy/account-privacy.module';
import { UsersModule } from './users/users.module';

export interface AppModuleOptions {
  /** Run BullMQ workers and the outbox relay in this process. */
  workers: boolean;
}

@Module({})
export class AppModule {
  static register(options: AppModuleOptions): DynamicModule {
    const sandbox = loadAppConfig().sandbox;
    // With `SANDBOX_MOCKS_URL` set, another process serves the mocks (`npm run start:sandbox`) and works their queues.
    const mocksHere = sandbox && !loadSandboxConfig().mocksUrl;
    const rates = RatesModule.register({ workers: options.workers, sandbox, sandboxFaults: SandboxRateFaultsModule });
    const market = MarketModule.register({ workers: options.workers, rates });
    const trades = TradesModule.register({ workers: options.workers, market, rates });
    const disputes = DisputesModule.register({ trades });
    const chat = ChatModule.register({ trades });
    const ratings = RatingsModule.register({ trades });
    const payments = PaymentsModule.register({ workers: options.workers, trades, disputes });
    const notifications = NotificationsModule.register({ workers: options.workers, trades, chat });
    const webhooks = WebhooksModule.register({ workers: options.workers, envelopes: notifications });
    const admin = AdminModule.register({ trades });
    const reconciliation = ReconciliationModule.register({ workers: options.workers, payments, trades });
    // Guards run in this order: the limit per address (failed authentications count too), 401, the limit per
    // user, 403 role, 403 suspended.
    const limits = loadHttpConfig().rateLimitEnabled;
    const guards: Provider[] = [];
    if (limits) guards.push({ provide: APP_GUARD, useClass: AddressRateLimitGuard });
    guards.push({ provide: APP_GUARD, useClass: AuthenticationGuard });
    if (limits) guards.push({ provide: APP_GUARD, useClass: UserRateLimitGuard });
    guards.push({ provide: APP_GUARD, useClass: AuthorizationGuard });

    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, load: allConfigs, ignoreEnvFile: true }),
        RuntimeModule.register(options.workers),
        LoggerModule.forRootAsync({
          inject: [appConfig.KEY],
          useFactory: (config: ConfigType<typeof appConfig>) => {
            const destination = logDestination(config);
            return {
              // No per-request middleware (it built a child logger for every request, even at levels that
              // write no access line): the access line and the request's log context are Fastify hooks
              // (create-app.ts). The module still provides the root logger the application logs through.
              forRoutes: [],
              pinoHttp: destination ? [loggerOptions(config), destination] : loggerOptions(config),
            };
          },
        }),
        ThrottlerModule.forRootAsync({
          inject: [httpConfig.KEY, THROTTLER_REDIS],
          useFactory: (http: ConfigType<typeof httpConfig>, redis: Redis) => rateLimitOptions(http, redis),
        }),
        DatabaseModule,
        RedisModule,
        QueuesModule,
        ...queueDashboardModules(),
        CryptoModule,
        OutboxModule,
        EventsModule,
        IdempotencyModule,
        HousekeepingModule.register(options.workers),
        AuditModule,
        UsersModule,
        admin,
        ConsoleModule.register({ imports: [trades, disputes, chat, admin, reconciliation] }),
        rates,
        market,
        trades,
        HealthModule,
        payments,
        reconciliation,
        disputes,
        chat,
        ratings,
        notifications,
        webhooks,
        AccountPrivacyModule.register({ rates, market, trades, disputes, chat, ratings, webhooks }),
        ...(mocksHere ? [SandboxModule.register({ workers: options.workers })] : []),
        MetricsModule,
      ],
      providers: [...guards, { provide: APP_FILTER, useClass: ProblemDetailsFilter }],
    };
  }
}
