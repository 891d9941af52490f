import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { ProviderHealthModule } from '../provider-health/provider-health.module';
import { UsersModule } from '../users/users.module';
import { DeadlinesProcessor } from './deadlines.processor';
import { LedgerCheckRepository } from './ledger-check.repository';
import { LedgerCheckService } from './ledger-check.service';
import { OutageExtensionRepository } from './outage-extension.repository';
import { NearingDeadlinesRepository } from './nearing-deadlines.repository';
import { OutageExtension } from './outage-extension.service';
import { DeadlinesScheduler } from './deadlines.scheduler';
import { HandleRevealsRepository } from './handle-reveals.repository';
import { HandleReveals } from './handle-reveals.service';
import { TradeCreationController, TradesController } from './trades.controller';
import { TradeListsRepository } from './trade-lists.repository';
import { TradesRepository } from './trades.repository';
import { TimelineRepository } from './timeline.repository';
import { TradeTimeline } from './trade-timeline';
import { TradeEvents } from './trade-events';
import { TradeSettlementRepository } from './trade-settlement.repository';
import { TradeReadsRepository } from './trade-reads.repository';
import { TradeMoves } from './trade-moves';
import { TradeOpeningRepository } from './trade-opening.repository';
import { TradeOpeningService } from './trade-opening.service';
import { TradePartyActionsService } from './trade-party-actions.service';
import { TradeQueriesService } from './trade-queries.service';
import { TradeTransitionsService } from './trade-transitions.service';

/**
 * Trades reserve from and return to the market in their own transactions, so this module imports the
 * market (and never the other way round).
 */
@Module({})
export class TradesModule {
  static register(options: { workers: boolean; market: DynamicModule; rates: DynamicModule }): DynamicModule {
    return {
      module: TradesModule,
      imports: [options.market, options.rates, LedgerModule, UsersModule, ProviderHealthModule],
      controllers: [TradesController, TradeCreationController],
      providers: [
        TradesRepository,
        TradeListsRepository,
        TimelineRepository,
        TradeTimeline,
        TradeEvents,
        TradeSettlementRepository,
        TradeReadsRepository,
        TradeMoves,
        TradeOpeningRepository,
        TradeOpeningService,
        TradePartyActionsService,
        TradeQueriesService,
        TradeTransitionsService,
        LedgerCheckRepository,
        LedgerCheckService,
        OutageExtensionRepository,
        OutageExtension,
        HandleRevealsRepository,
        HandleReveals,
        ...(options.workers ? [DeadlinesProcessor, DeadlinesScheduler, NearingDeadlinesRepository] : []),
      ],
      exports: [
        TradeTransitionsService,
        TradeTimeline,
        TradeEvents,
        TradeSettlementRepository,
        TradeReadsRepository,
        LedgerCheckService,
        HandleRevealsRepository,
        HandleReveals,
        TradeQueriesService,
      ],
    };
  }
}
