import { Column, CreateDateColumn, Entity, OneToOne, PrimaryGeneratedColumn, Relation, UpdateDateColumn } from 'typeorm';
import type { UserRole } from '../common/auth/auth-user';
import { UserReputationEntity } from './user-reputation.entity';

@Entity({ name: 'users' })
export class UserEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  email: string;

  @Column({ name: 'password_hash', type: 'text', select: false })
  passwordHash: string;

  @Column({ name: 'display_name', type: 'text' })
  displayName: string;

  @Column({ type: 'text' })
  role: UserRole;

  @Column({ type: 'smallint' })
  tier: number;

  @Column({ name: 'suspended_at', type: 'timestamptz', nullable: true })
  suspendedAt: Date | null;

  @Column({ name: 'wechat_id_ciphertext', type: 'text', nullable: true, select: false })
  wechatIdCiphertext: string | null;

  @Column({ name: 'wechat_id_key_id', type: 'text', nullable: true, select: false })
  wechatIdKeyId: string | null;

  @Column({ name: 'wechat_id_index', type: 'text', nullable: true })
  wechatIdIndex: string | null;

  @Column({ name: 'paypal_email_ciphertext', type: 'text', nullable: true, select: false })
  paypalEmailCiphertext: string | null;

  @Column({ name: 'paypal_email_key_id', type: 'text', nullable: true, select: false })
  paypalEmailKeyId: string | null;

  @Column({ name: 'paypal_email_index', type: 'text', nullable: true })
  paypalEmailIndex: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @OneToOne(() => UserReputationEntity, (reputation) => reputation.user)
  reputation?: Relation<UserReputationEntity>;
}
