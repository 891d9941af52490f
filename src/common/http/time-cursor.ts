const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A guard for `{t, id}` cursors whose time matches `time`. Only what toPage wrote: a forged cursor must be a
 * 400, never reach PostgreSQL as a bad cast.
 */
export function timeCursorGuard(time: RegExp): (value: unknown) => value is { t: string; id: string } {
  return (value: unknown): value is { t: string; id: string } => {
    const v = value as { t?: unknown; id?: unknown };
    return (
      typeof v === 'object' &&
      v !== null &&
      typeof v.t === 'string' &&
      time.test(v.t) &&
      !Number.isNaN(Date.parse(v.t)) &&
      typeof v.id === 'string' &&
      UUID_PATTERN.test(v.id)
    );
  };
}

/** A cursor of a list ordered by a time to the millisecond. */
export const isTimeCursor = timeCursorGuard(ISO_TIME);
