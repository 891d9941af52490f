import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEntryEntity } from './audit-entry.entity';

export interface AuditRecord {
  operatorId: string | null;
  action: string;
  targetType: 'user' | 'trade' | 'dispute' | 'reconciliation' | 'queue';
  targetId: string | null;
  tradeId?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditFilter {
  operatorId?: string;
  tradeId?: string;
}

@Injectable()
export class AuditRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes the entry in the caller's transaction, so an action and its audit commit or fail together. */
  async record(manager: EntityManager, entry: AuditRecord): Promise<void> {
    await manager.query(
      `INSERT INTO audit_log (operator_id, action, target_type, target_id, trade_id, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
      [entry.operatorId, entry.action, entry.targetType, entry.targetId, entry.tradeId ?? null, entry.detail ?? {}],
    );
  }

  list(filter: AuditFilter, limit: number, after?: { at: string; id: string }): Promise<AuditEntryEntity[]> {
    const query = this.dataSource
      .getRepository(AuditEntryEntity)
      .createQueryBuilder('a')
      .orderBy("date_trunc('milliseconds', a.at)", 'ASC')
      .addOrderBy('a.id', 'ASC')
      .limit(limit);
    if (filter.operatorId) query.andWhere('a.operator_id = :operatorId', { operatorId: filter.operatorId });
    if (filter.tradeId) query.andWhere('a.trade_id = :tradeId', { tradeId: filter.tradeId });
    if (after) query.andWhere("(date_trunc('milliseconds', a.at), a.id) > (:at, :id)", after);
    return query.getMany();
  }
}
