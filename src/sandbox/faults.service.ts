import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../common/database/query';
import { decide, FaultDecision, FaultProvider, FaultSettings } from './faults';

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
    return settings;
  }

  /** In a caller's transaction, pass its manager: a second connection taken while one is held can starve the pool. */
  async get(provider: FaultProvider, manager?: EntityManager): Promise<FaultSettings> {
    const rows = await (manager ?? this.dataSource.manager).query(`SELECT settings FROM sandbox_faults WHERE provider = $1`, [provider]);
    return rows[0]?.settings ?? {};
  }

  /** Counts the call (to `path`, relative to the mock) and decides its fate. With no settings stored, no row is touched. */
  async next(provider: FaultProvider, path?: string): Promise<FaultDecision> {
    const rows = await returningRows<{ settings: FaultSettings; calls: string }>(
      this.dataSource.manager,
      `UPDATE sandbox_faults SET calls = calls + 1 WHERE provider = $1 AND settings <> '{}'::jsonb RETURNING settings, calls`,
      [provider],
    );
    if (rows.length === 0) return { kind: 'ok', latencyMs: 0, failAfter: false };
    return decide(rows[0].settings, BigInt(rows[0].calls), path);
  }
}
