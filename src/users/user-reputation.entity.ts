import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, Relation } from 'typeorm';
import { UserEntity } from './user.entity';

/** Per-user counters; the trade and dispute transitions keep them current in their own transactions. */
@Entity({ name: 'user_reputation' })
export class UserReputationEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId: string;

  @OneToOne(() => UserEntity, (user) => user.reputation)
  @JoinColumn({ name: 'user_id' })
  user?: Relation<UserEntity>;

  @Column({ name: 'completed_trades', type: 'integer' })
  completedTrades: number;

  /** Trades that ended otherwise by this user's doing (SPEC.md, "The market"). */
  @Column({ name: 'failed_trades', type: 'integer' })
  failedTrades: number;

  @Column({ name: 'disputes_lost', type: 'integer' })
  disputesLost: number;

  @Column({ name: 'disputes_won', type: 'integer' })
  disputesWon: number;

  @Column({ name: 'rating_sum', type: 'integer' })
  ratingSum: number;

  @Column({ name: 'rating_count', type: 'integer' })
  ratingCount: number;

  @Column({ name: 'recent_release_minutes', type: 'integer', array: true })
  recentReleaseMinutes: number[];
}
