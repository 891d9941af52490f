import { DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { OperatorStandingRepository } from '../users/operator-standing.repository';
import { UsersModule } from '../users/users.module';
import { ChatController } from './chat.controller';
import { ChatRepository } from './chat.repository';
import { ChatService } from './chat.service';
import { MessagesReader } from './messages-reader';

/**
 * Trade chat. Above trades and disputes (it reads trades, and whether one had a dispute), below what sends events:
 * `MessagesReader` gives an event's envelope the message as it is when sent.
 */
@Module({})
export class ChatModule {
  static register(options: { trades: DynamicModule }): DynamicModule {
    return {
      module: ChatModule,
      imports: [options.trades, UsersModule, AuditModule],
      controllers: [ChatController],
      providers: [ChatRepository, ChatService, MessagesReader, OperatorStandingRepository],
      exports: [MessagesReader, ChatRepository, ChatService],
    };
  }
}
