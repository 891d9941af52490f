import { DynamicModule, Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';
import { ConsoleAuthController } from './console-auth.controller';
import { ConsoleCsrf } from './console-csrf';
import { ConsoleDisputesController } from './console-disputes.controller';
import { ConsoleSessionGuard } from './console-session';
import { DisputeFiles } from './dispute-file.service';
import { ConsoleLedgerController } from './ledger/console-ledger.controller';
import { ConsoleTradesController } from './trades/console-trades.controller';
import { ConsoleUsersController } from './users/console-users.controller';

/**
 * The operator console at /admin: server-rendered pages and form posts on the same services as the admin API,
 * signed in with the console session cookie (never accepted by /v1).
 */
@Module({})
export class ConsoleModule {
  static register(options: { imports: DynamicModule[] }): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [UsersModule, ...options.imports],
      controllers: [
        ConsoleAuthController,
        ConsoleDisputesController,
        ConsoleTradesController,
        ConsoleUsersController,
        ConsoleLedgerController,
      ],
      providers: [ConsoleCsrf, ConsoleSessionGuard, DisputeFiles],
    };
  }
}
