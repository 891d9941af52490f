import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One operator action. Rows are only ever inserted. */
@Entity({ name: 'audit_log' })
export class AuditEntryEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'operator_id', type: 'uuid', nullable: true })
  operatorId: string | null;

  @Column({ type: 'text' })
  action: string;

  @Column({ name: 'target_type', type: 'text' })
  targetType: string;

  @Column({ name: 'target_id', type: 'uuid', nullable: true })
  targetId: string | null;

  @Column({ name: 'trade_id', type: 'uuid', nullable: true })
  tradeId: string | null;

  @Column({ type: 'jsonb' })
  detail: Record<string, unknown>;

  @Column({ type: 'timestamptz' })
  at: Date;
}
