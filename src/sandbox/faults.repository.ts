import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../common/database/query';
import type { FaultProvider, FaultSettings } from './faults';

/** `sandbox_faults`: the fault settings of each provider mock, and how many calls it has counted since they were set. */
@Injectable()
export class FaultsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Replaces a provider's settings and restarts its call counter. */
  async replace(provider: FaultProvider, settings: FaultSettings): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO sandbox_faults (provider, settings, calls) VALUES ($1, $2, 0)
       ON CONFLICT (provider) DO UPDATE SET settings = EXCLUDED.settings, calls = 0, updated_at = now()`,
      [provider, settings],
    );
  }

  /** The provider's settings, or undefined when none were ever stored. */
  async settings(provider: FaultProvider, manager?: EntityManager): Promise<FaultSettings | undefined> {
    const rows = await (manager ?? this.dataSource.manager).query(`SELECT settings FROM sandbox_faults WHERE provider = $1`, [provider]);
    return rows[0]?.settings;
  }

  /** Counts one call, if the provider has settings; answers them with the count, or undefined (and touches no row) when it has none. */
  async countCall(provider: FaultProvider): Promise<{ settings: FaultSettings; calls: bigint } | undefined> {
    const rows = await returningRows<{ settings: FaultSettings; calls: string }>(
      this.dataSource.manager,
      `UPDATE sandbox_faults SET calls = calls + 1 WHERE provider = $1 AND settings <> '{}'::jsonb RETURNING settings, calls`,
      [provider],
    );
    return rows[0] ? { settings: rows[0].settings, calls: BigInt(rows[0].calls) } : undefined;
  }
}
