import { UUID_PATTERN } from '../users/users.service';

/** Where a trade list's next page starts: after this trade (its creation to the microsecond, then its id). */
export interface TradePosition {
  createdAt: string;
  id: string;
}

// Six fractional digits since positions are kept to the microsecond; three still read, as older cursors had.
const POSITION_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(\d{3})?Z$/;

/** A trade list's cursor, `{t, id}`, as decoded from the client: anything else is refused as `invalid_cursor`. */
export function isTradeCursor(value: unknown): value is { t: string; id: string } {
  const v = value as { t?: unknown; id?: unknown };
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.t === 'string' &&
    POSITION_TIME.test(v.t) &&
    !Number.isNaN(Date.parse(v.t)) &&
    typeof v.id === 'string' &&
    UUID_PATTERN.test(v.id)
  );
}
