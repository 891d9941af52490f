import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { OutboxService } from '../outbox/outbox.service';
import { OutageEnded, ProviderHealth } from '../provider-health/provider-health.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { ExtendedDeadline, OutageExtensionRepository } from './outage-extension.repository';
import { TradeTimeline } from './trade-timeline';
import { TradeEvents } from './trade-events';
import { Transactions } from '../database/transactions';

/**
 * Deadlines never punish a party for the platform's fault (SPEC.md). While a provider is down, the deadlines
 * that wait on it do not run out (the deadline jobs ask `ProviderHealth.isDown`); when it comes back, every
 * such deadline that was still running when the outage began is pushed back by the outage's length, each
 * trade's timeline says so (`deadline_extended`), and the deadline's job is queued for its new time. Each
 * trade once per outage, so a recovery taken over after a crash extends nothing twice. The provider counts
 * as down until this has run.
 */
@Injectable()
export class OutageExtension implements OnModuleInit {
  private readonly logger = new Logger(OutageExtension.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly health: ProviderHealth,
    private readonly repository: OutageExtensionRepository,
    private readonly timeline: TradeTimeline,
    private readonly outbox: OutboxService,
    private readonly events: TradeEvents,
  ) {}

  onModuleInit(): void {
    this.health.onOutageEnded((outage) => this.extendDeadlines(outage));
  }

  /** Pushes back, by the outage, each live deadline that depended on the provider and had not run out when it began. */
  async extendDeadlines({ provider, from, to }: OutageEnded): Promise<void> {
    const byMs = to.getTime() - from.getTime();
    const outageFrom = from.toISOString();
    let extended = 0;
    for (const deadline of this.repository.deadlinesOf(provider)) {
      for (let after = '00000000-0000-0000-0000-000000000000'; ;) {
        const ids = await this.repository.running(provider, deadline, from, after, 500);
        if (ids.length === 0) break;
        after = ids[ids.length - 1];
        for (const id of ids) {
          if (await this.extendOne(id, { provider, deadline }, { from, to, byMs, outageFrom })) extended += 1;
        }
      }
    }
    this.logger.warn({ provider, outageMs: byMs, extended }, 'Provider recovered: the deadlines that waited on it were extended');
  }

  /** One trade's deadline, in one transaction with its timeline event and its job; once per trade and outage. */
  private async extendOne(
    id: string,
    { provider, deadline }: { provider: OutageEnded['provider']; deadline: ExtendedDeadline },
    outage: { from: Date; to: Date; byMs: number; outageFrom: string },
  ): Promise<boolean> {
    return this.transactions.run(async (manager) => {
      // A recovery taken over after a crash finds the trades already done.
      if (await this.repository.alreadyExtended(manager, id, deadline, outage.outageFrom)) return false;
      const moved = await this.repository.extend(manager, id, provider, deadline, outage.byMs, outage.from);
      if (!moved) return false;
      await this.timeline.deadlineExtended(manager, id, {
        deadline,
        provider,
        byMs: outage.byMs,
        until: moved.until.toISOString(),
        outageFrom: outage.outageFrom,
      });
      await this.events.recordFor(manager, 'trade.deadline_extended', [id]);
      // Payout and funding deadlines run as delayed jobs: one more for the new time (the old one finds nothing due).
      if (deadline !== 'verify') {
        await this.outbox.write(manager, {
          queue: QUEUES.deadlines,
          jobName: deadline === 'funding' ? JOBS.deadlines.fundingDeadline : JOBS.deadlines.payoutDeadline,
          jobId: `deadline-${id}-${deadline}-extended-${outage.to.getTime()}`,
          payload: { tradeId: id },
          delayMs: moved.dueInMs,
        });
      }
      return true;
    });
  }
}
