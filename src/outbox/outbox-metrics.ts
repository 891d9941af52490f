import { Histogram, register } from 'prom-client';
import type { PublishableRow } from './outbox-jobs';

export const OUTBOX_PUBLISH_METRIC = 'outbox_publish_seconds';

function histogram(): Histogram<'queue' | 'by'> {
  return (
    (register.getSingleMetric(OUTBOX_PUBLISH_METRIC) as Histogram<'queue' | 'by'> | undefined) ??
    new Histogram({
      name: OUTBOX_PUBLISH_METRIC,
      help: "Seconds from an outbox row's insert to BullMQ holding its job, by queue and publisher (writer: after its commit; relay)",
      labelNames: ['queue', 'by'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30],
    })
  );
}

/**
 * The first part of an outbox hop (`outbox_hop_seconds` is the whole of it, to the job's start): the publish, for
 * rows due at once. What is left of a hop is the job's wait for a free worker.
 */
export function observePublished(rows: PublishableRow[], by: 'writer' | 'relay', now = Date.now()): void {
  const metric = histogram();
  for (const row of rows) {
    if (row.remainingDelayMs === 0) metric.observe({ queue: row.queue, by }, Math.max(0, now - row.dueAtMs) / 1000);
  }
}
