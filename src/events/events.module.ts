import { Global, Module } from '@nestjs/common';
import { EventLog } from './event-log';
import { EventsRepository } from './events.repository';

/** The event log, for every module that records events in its transactions (trades, disputes, payments, chat). */
@Global()
@Module({
  providers: [EventsRepository, EventLog],
  exports: [EventsRepository, EventLog],
})
export class EventsModule {}
