import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../common/database/query';
import { decide, FaultDecision, FaultProvider, FaultSettings } from './faults';

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
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Replaces a provider's settings; an empty object clears them. The call counter restarts, so a seed replays. */
  async set(provider: FaultProvider, settings: FaultSettings): Promise<FaultSettings> {
    await this.dataSource.query(
      `INSERT INTO sandbox_faults (provider, settings, calls) VALUES ($1, $2, 0)
       ON CONFLICT (provider) DO UPDATE SET settings = EXCLUDED.settings, calls = 0, updated_at = now()`,
      [provider, settings],
    );
    this.remember(provider, settings);
    return settings;
  }

  /** In a caller's transaction, pass its manager: a second connection taken while one is held can starve the pool. */
  async get(provider: FaultProvider, manager?: EntityManager): Promise<FaultSettings> {
    if (this.knownClear(provider)) return {};
    const rows = await (manager ?? this.dataSource.manager).query(`SELECT settings FROM sandbox_faults WHERE provider = $1`, [provider]);
    const settings: FaultSettings = rows[0]?.settings ?? {};
    this.remember(provider, settings);
    return settings;
  }

  /** Counts the call (to `path`, relative to the mock) and decides its fate. With no settings stored, no row is touched. */
  async next(provider: FaultProvider, path?: string): Promise<FaultDecision> {
    if (this.knownClear(provider)) return { kind: 'ok', latencyMs: 0, failAfter: false };
    const rows = await returningRows<{ settings: FaultSettings; calls: string }>(
      this.dataSource.manager,
      `UPDATE sandbox_faults SET calls = calls + 1 WHERE provider = $1 AND settings <> '{}'::jsonb RETURNING settings, calls`,
      [provider],
    );
    if (rows.length === 0) {
      this.remember(provider, {});
      return { kind: 'ok', latencyMs: 0, failAfter: false };
    }
    return decide(rows[0].settings, BigInt(rows[0].calls), path);
  }

  private knownClear(provider: FaultProvider): boolean {
    return (noFaultsUntil.get(provider) ?? 0) > Date.now();
  }

  private remember(provider: FaultProvider, settings: FaultSettings): void {
    if (Object.keys(settings).length === 0) noFaultsUntil.set(provider, Date.now() + NO_FAULTS_TRUSTED_MS);
    else noFaultsUntil.delete(provider);
  }
}
