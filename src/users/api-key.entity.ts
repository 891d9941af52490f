import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ApiKeyScope } from '../common/auth/auth-user';

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  /** The first characters of the key, shown in lists so a user can tell keys apart. */
  @Column({ type: 'text' })
  prefix: string;

  /** SHA-256 of the key: keys are 256 random bits, so a fast hash is as safe as a slow one and lookups stay O(1). */
  @Column({ name: 'key_hash', type: 'text', select: false })
  keyHash: string;

  @Column({ type: 'text', nullable: true })
  name: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  /** null: everything its owner may do. */
  @Column({ type: 'text', nullable: true })
  scope: ApiKeyScope | null;

  /** After this the key is refused (401); null: never. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
