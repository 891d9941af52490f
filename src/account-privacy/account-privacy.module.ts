import { DynamicModule, Module } from '@nestjs/common';
import { MessageRetentionRepository } from '../chat/message-retention.repository';
import { HandleRetentionRepository } from '../trades/handle-retention.repository';
import { AccountDeletionService } from './account-deletion.service';
import { AccountExportService } from './account-export.service';
import { AccountPrivacyController } from './account-privacy.controller';
import { AccountPrivacyRepository } from './account-privacy.repository';
import { UsersModule } from '../users/users.module';

/**
 * The account export and deletion. Their own module, above the features they read (market, trades, disputes, chat, ratings,
 * webhooks) on the ladder: `UsersModule` stays below them all, and nothing imports this one.
 */
@Module({})
export class AccountPrivacyModule {
  static register(options: {
    rates: DynamicModule;
    market: DynamicModule;
    trades: DynamicModule;
    disputes: DynamicModule;
    chat: DynamicModule;
    ratings: DynamicModule;
    webhooks: DynamicModule;
  }): DynamicModule {
    return {
      module: AccountPrivacyModule,
      imports: [
        UsersModule,
        options.rates,
        options.market,
        options.trades,
        options.disputes,
        options.chat,
        options.ratings,
        options.webhooks,
      ],
      controllers: [AccountPrivacyController],
      providers: [
        AccountPrivacyRepository,
        HandleRetentionRepository,
        MessageRetentionRepository,
        AccountExportService,
        AccountDeletionService,
      ],
    };
  }
}
