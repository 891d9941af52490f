import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { TradesRepository } from '../../trades/trades.repository';

export const SETTLEMENT_FAILING_METRIC = 'trades_settlement_failing';

/** Trades flagged `settlementFailing`, counted when Prometheus scrapes: the figure an alert watches. */
@Injectable()
export class SettlementMetrics implements OnModuleInit {
  constructor(private readonly trades: TradesRepository) {}

  onModuleInit(): void {
    const trades = this.trades;
    register.removeSingleMetric(SETTLEMENT_FAILING_METRIC);
    new Gauge({
      name: SETTLEMENT_FAILING_METRIC,
      help: 'Trades whose settlement keeps failing, awaiting an operator',
      async collect() {
        try {
          this.set(await trades.countSettlementFailing());
        } catch {
          // Database unreachable: readiness reports it; the last value is left rather than a false zero.
        }
      },
    });
  }
}
