import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { decide, FaultDecision, FaultProvider, FaultSettings } from './faults';
import { FaultsRepository } from './faults.repository';

/**
 * How long a process trusts having read "no faults" for a provider before it reads again. Every mock call
 * asks, and a settings change made through another process takes at most this long to reach this one.
 */
const NO_FAULTS_TRUSTED_MS = 1000;

/**
 * Per provider, until when this process knows it has no settings: the common case costs no round trip. Kept
 * per process, not per instance: more than one module provides this service, and a change made through one
 * must reach them all.
 */
const noFaultsUntil = new Map<FaultProvider, number>();

/** Fault settings per provider mock, kept in PostgreSQL so every process applies the same ones. */
@Injectable()
export class FaultsService {
  constructor(private readonly repository: FaultsRepository) {}

  /** Replaces a provider's settings; an empty object clears them. The call counter restarts, so a seed replays. */
  async set(provider: FaultProvider, settings: FaultSettings): Promise<FaultSettings> {
    await this.repository.replace(provider, settings);
    this.remember(provider, settings);
    return settings;
  }

  /** In a caller's transaction, pass its manager: a second connection taken while one is held can starve the pool. */
  async get(provider: FaultProvider, manager?: EntityManager): Promise<FaultSettings> {
    if (this.knownClear(provider)) return {};
    const settings: FaultSettings = (await this.repository.settings(provider, manager)) ?? {};
    this.remember(provider, settings);
    return settings;
  }

  /** Counts the call (to `path`, relative to the mock) and decides its fate. With no settings stored, no row is touched. */
  async next(provider: FaultProvider, path?: string): Promise<FaultDecision> {
    if (this.knownClear(provider)) return { kind: 'ok', latencyMs: 0, failAfter: false };
    const counted = await this.repository.countCall(provider);
    if (!counted) {
      this.remember(provider, {});
      return { kind: 'ok', latencyMs: 0, failAfter: false };
    }
    return decide(counted.settings, counted.calls, path);
  }

  private knownClear(provider: FaultProvider): boolean {
    return (noFaultsUntil.get(provider) ?? 0) > Date.now();
  }

  private remember(provider: FaultProvider, settings: FaultSettings): void {
    if (Object.keys(settings).length === 0) noFaultsUntil.set(provider, Date.now() + NO_FAULTS_TRUSTED_MS);
    else noFaultsUntil.delete(provider);
  }
}
