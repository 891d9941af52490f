export type RaterRole = 'traveler' | 'counterparty';

export interface Rating {
  id: string;
  tradeId: string;
  raterId: string;
  ratedId: string;
  raterRole: RaterRole;
  score: number;
  /** In clear; null when there was none or it was erased (its rater deleted their account). */
  comment: string | null;
  createdAt: Date;
}

/** A list's position: `created_at` (to the millisecond, as stored) and id. */
export interface RatingPosition {
  createdAt: string;
  id: string;
}
