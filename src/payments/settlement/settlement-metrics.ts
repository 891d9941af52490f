import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { BankTransfersRepository } from '../funding/bank-transfers.repository';

export const SETTLEMENT_FAILING_METRIC = 'trades_settlement_failing';
export const SUSPENSE_STUCK_METRIC = 'bank_suspense_stuck';

/**
 * What waits on an operator, counted when Prometheus scrapes: the figures an alert watches. Trades flagged
 * `settlementFailing`, and bank money in suspense the bank could not give back (refused or bounced).
 */
@Injectable()
export class SettlementMetrics implements OnModuleInit {
  constructor(
    private readonly trades: TradeSettlementRepository,
    private readonly incoming: BankTransfersRepository,
  ) {}

  onModuleInit(): void {
    gauge(SETTLEMENT_FAILING_METRIC, 'Trades whose settlement keeps failing, or whose money came back, awaiting an operator', () =>
      this.trades.countSettlementFailing(),
    );
    gauge(SUSPENSE_STUCK_METRIC, 'Incoming bank transfers held in suspense that the bank could not return', () =>
      this.incoming.countStuck(),
    );
  }
}

function gauge(name: string, help: string, count: () => Promise<number>): void {
  register.removeSingleMetric(name);
  new Gauge({
    name,
    help,
    async collect() {
      try {
        this.set(await count());
      } catch {
        // Database unreachable: readiness reports it; the last value is left rather than a false zero.
      }
    },
  });
}
