import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedQuery, preparedRead, returningRows } from '../common/database/query';

export type HealthProvider = 'paypal' | 'bank' | 'wechat';

/** The `provider_health` row of each provider: its failures in a row, since when it is down, and who is ending the outage. */
@Injectable()
export class ProviderHealthRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One more failure; down (from its first failure) once `downAfter` failures came in a row. */
  async recordFailure(provider: HealthProvider, downAfter: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE provider_health SET consecutive_failures = consecutive_failures + 1, updated_at = now(),
              failing_since = coalesce(failing_since, now()),
              down_since = CASE WHEN consecutive_failures + 1 >= $2 THEN coalesce(down_since, failing_since, now()) ELSE down_since END
        WHERE provider = $1`,
      [provider, downAfter],
    );
  }

  /** Only reads: no write, and no row lock every provider call would queue on. */
  async state(provider: HealthProvider): Promise<{ failing: boolean; downSince: Date | null } | undefined> {
    const rows = await preparedRead<{ failing: boolean; down_since: Date | null; recovering_at: Date | null }>(
      this.dataSource,
      `SELECT consecutive_failures > 0 AS failing, down_since, recovering_at FROM provider_health WHERE provider = $1`,
      [provider],
    );
    return rows[0] ? { failing: rows[0].failing, downSince: rows[0].down_since } : undefined;
  }

  /** Failures that never made the provider down are forgotten. */
  async clearFailures(provider: HealthProvider): Promise<void> {
    await this.dataSource.query(
      `UPDATE provider_health SET consecutive_failures = 0, failing_since = NULL, updated_at = now() WHERE provider = $1 AND down_since IS NULL`,
      [provider],
    );
  }

  /**
   * Claims the end of the outage: one at a time; a claim older than five minutes was left by a process that
   * died, and is taken over. Undefined when the provider is not down or another process holds the claim.
   */
  async claimRecovery(provider: HealthProvider): Promise<{ downSince: Date; now: Date } | undefined> {
    const claimed = await returningRows<{ down_since: Date; now: Date }>(
      this.dataSource.manager,
      `UPDATE provider_health SET recovering_at = now(), updated_at = now()
        WHERE provider = $1 AND down_since IS NOT NULL AND (recovering_at IS NULL OR recovering_at < now() - interval '5 minutes')
        RETURNING down_since, now() AS now`,
      [provider],
    );
    return claimed[0] ? { downSince: claimed[0].down_since, now: claimed[0].now } : undefined;
  }

  async markUp(provider: HealthProvider): Promise<void> {
    await this.dataSource.query(
      `UPDATE provider_health SET consecutive_failures = 0, failing_since = NULL, down_since = NULL, recovering_at = NULL, updated_at = now()
        WHERE provider = $1`,
      [provider],
    );
  }

  /** Down, or its recovery is still under way. */
  /** In the caller's transaction when given one: on its connection, not a second one from the pool while it holds the first. */
  async isDown(provider: HealthProvider, manager?: EntityManager): Promise<boolean> {
    const rows = await preparedQuery<{ down: boolean }>(
      this.dataSource,
      manager,
      `SELECT down_since IS NOT NULL AS down FROM provider_health WHERE provider = $1`,
      [provider],
    );
    return rows[0]?.down === true;
  }
}
