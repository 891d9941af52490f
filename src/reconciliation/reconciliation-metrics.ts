import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { MISMATCH } from './mismatch';
import { ReconciliationRunsRepository } from './reconciliation-runs.repository';

export const OPEN_MISMATCHES_METRIC = 'reconciliation_open_mismatches';
export const LAST_RUN_METRIC = 'reconciliation_last_run_timestamp_seconds';

/**
 * Reconciliation's figures for alerts, read when Prometheus scrapes: open mismatches by kind (every kind shown,
 * zero included, so an alert has a series to watch), and when the last run finished (a stalled job shows as age).
 */
@Injectable()
export class ReconciliationMetrics implements OnModuleInit {
  constructor(private readonly repository: ReconciliationRunsRepository) {}

  onModuleInit(): void {
    const repository = this.repository;
    register.removeSingleMetric(OPEN_MISMATCHES_METRIC);
    new Gauge({
      name: OPEN_MISMATCHES_METRIC,
      help: 'Reconciliation mismatches still open, by kind',
      labelNames: ['kind'],
      async collect() {
        try {
          const counts = new Map((await repository.openCountsByKind()).map((r) => [r.kind, r.n]));
          for (const kind of Object.values(MISMATCH)) this.set({ kind }, counts.get(kind) ?? 0);
        } catch {
          // Database unreachable: readiness reports it; the last values are left rather than false zeros.
        }
      },
    });
    register.removeSingleMetric(LAST_RUN_METRIC);
    new Gauge({
      name: LAST_RUN_METRIC,
      help: 'When the last reconciliation run finished (Unix seconds; 0 before the first)',
      async collect() {
        try {
          const at = await repository.lastFinishedAt();
          this.set(at ? at.getTime() / 1000 : 0);
        } catch {
          // as above
        }
      },
    });
  }
}
