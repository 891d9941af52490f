import { Global, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig } from '../config';
import { dataSourceOptions } from './data-source-options';
import { Notifications } from './notifications';
import { Transactions } from './transactions';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (config: ConfigType<typeof databaseConfig>) => ({
        ...dataSourceOptions(config),
        autoLoadEntities: true,
        // Preflight has connected already; a lost database later is a readiness failure, not a retry loop at start.
        retryAttempts: 2,
        retryDelay: 500,
      }),
    }),
  ],
  // Global: every service opens its transactions through it, and whatever listens shares the one listening connection.
  providers: [Transactions, Notifications],
  exports: [Transactions, Notifications],
})
export class DatabaseModule {}
