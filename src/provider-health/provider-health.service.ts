import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { HealthProvider, ProviderHealthRepository } from './provider-health.repository';

export type { HealthProvider } from './provider-health.repository';

/** An outage that is ending: the provider was down from `from` until `to` (the database's clock). */
export interface OutageEnded {
  provider: HealthProvider;
  from: Date;
  to: Date;
}

/** What a module does when an outage ends; the provider counts as down until every reaction has returned. */
export type OutageEndedReaction = (outage: OutageEnded) => Promise<void>;

// Failures in a row before a provider counts as down: one timeout is noise, two is an outage.
const DOWN_AFTER_FAILURES = 2;

// How long a process trusts having read "healthy" while its own calls keep succeeding. A failure recorded
// meanwhile by another process is noticed this much later, which only lengthens that outage's extension.
const HEALTHY_TRUSTED_MS = 1000;

/**
 * Whether each provider is up. The provider adapters report each call's outcome here; a provider failing
 * twice in a row is down from its first failure. Modules whose work waits on a provider ask `isDown`, and
 * register with `onOutageEnded` what they do when it comes back (trades push their deadlines back: deadlines
 * never punish a party for the platform's fault, SPEC.md). When a call succeeds again after an outage, one
 * caller claims the recovery, runs those reactions, and only then marks the provider up: until that moment it
 * still counts as down. Successes write nothing unless the provider had been failing, so the healthy path
 * costs one primary-key read a second per process.
 */
@Injectable()
export class ProviderHealth {
  private readonly logger = new Logger(ProviderHealth.name);
  private readonly healthyUntil = new Map<HealthProvider, number>();
  /** Failures this process has seen per provider: a "healthy" read that a failure overtook is not trusted. */
  private readonly failuresSeen = new Map<HealthProvider, number>();
  private readonly reactions: OutageEndedReaction[] = [];

  constructor(private readonly repository: ProviderHealthRepository) {}

  /** Called at start-up by the modules that react to a provider's return. */
  onOutageEnded(reaction: OutageEndedReaction): void {
    this.reactions.push(reaction);
  }

  /** Never throws: bookkeeping must not turn a provider call that went through into a failure. */
  async failed(provider: HealthProvider): Promise<void> {
    this.healthyUntil.delete(provider);
    this.failuresSeen.set(provider, (this.failuresSeen.get(provider) ?? 0) + 1);
    await this.quietly(provider, () => this.repository.recordFailure(provider, DOWN_AFTER_FAILURES));
  }

  /**
   * A call went through. If the provider had been down, one caller claims the recovery, runs the reactions
   * (each must be safe to run again for the same outage: a recovery taken over after a crash repeats them),
   * and only then marks the provider up.
   */
  async succeeded(provider: HealthProvider): Promise<void> {
    // Healthy a moment ago, and no failure seen here since: nothing to record, and no round trip to learn it.
    if ((this.healthyUntil.get(provider) ?? 0) > Date.now()) return;
    const failuresBefore = this.failuresSeen.get(provider) ?? 0;
    await this.quietly(provider, async () => {
      const state = await this.repository.state(provider);
      if (!state || (!state.failing && !state.downSince)) {
        // Unless a failure came in while this read was on its way: then the read may be out of date already.
        if ((this.failuresSeen.get(provider) ?? 0) === failuresBefore) this.healthyUntil.set(provider, Date.now() + HEALTHY_TRUSTED_MS);
        return;
      }
      if (!state.downSince) {
        await this.repository.clearFailures(provider);
        return;
      }
      const claimed = await this.repository.claimRecovery(provider);
      if (!claimed) return;
      for (const reaction of this.reactions) await reaction({ provider, from: claimed.downSince, to: claimed.now });
      await this.repository.markUp(provider);
    });
  }

  private async quietly(provider: HealthProvider, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.error({ provider, error: (error as Error).message }, 'Provider health could not be recorded');
    }
  }

  /** Down, or its recovery is still running the reactions; read in the caller's transaction when given its manager. */
  async isDown(provider: HealthProvider, manager?: EntityManager): Promise<boolean> {
    return this.repository.isDown(provider, manager);
  }
}
