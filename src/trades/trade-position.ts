import { timeCursorGuard } from '../common/http/time-cursor';

/** Where a trade list's next page starts: after this trade (its creation to the microsecond, then its id). */
export interface TradePosition {
  createdAt: string;
  id: string;
}

/**
 * A trade list's cursor, `{t, id}`: six fractional digits since positions are kept to the microsecond; three
 * still read, as older cursors had.
 */
export const isTradeCursor = timeCursorGuard(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(\d{3})?Z$/);
