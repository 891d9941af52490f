import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../errors';

/** Bytes of HMAC-SHA256 kept in a cursor: 128 bits, beyond guessing, and a shorter URL. */
const TAG_BYTES = 16;
const KEY_INFO = 'yuanbridge list cursors v1';

/** One list's cursors: what `encode` wrote, `decode` gives back; anything else is 400 `validation_failed`. */
export interface ListCursors<Position> {
  encode(position: Position): string;
  decode(cursor: string): Position;
}

/**
 * The cursors of every list (API.md: opaque and signed). A cursor is base64url JSON of the list's position, a dot,
 * and an HMAC-SHA256 tag over the list's name and that text, so a cursor the service did not issue (forged, edited,
 * truncated, or issued by another list) is refused before its position is read. The key is derived from
 * JWT_SECRET, which every API process shares: a cursor one process issued pages on any other, and a new secret
 * voids the old cursors (a client starts its walk again).
 */
export class Cursors {
  private constructor(private readonly key: Buffer) {}

  static fromSecret(secret: string): Cursors {
    return new Cursors(Buffer.from(hkdfSync('sha256', secret, '', KEY_INFO, 32)));
  }

  /** The cursors of the list named `list` (names are the service's own, one per list). */
  of<Position extends Record<string, unknown>>(list: string, isPosition: (value: unknown) => value is Position): ListCursors<Position> {
    return {
      encode: (position) => {
        const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
        return `${payload}.${this.tag(list, payload).toString('base64url')}`;
      },
      decode: (cursor) => {
        const position = this.verified(list, cursor);
        if (position !== undefined && isPosition(position)) return position;
        throw invalidCursor();
      },
    };
  }

  private tag(list: string, payload: string): Buffer {
    return createHmac('sha256', this.key).update(list).update('\n').update(payload).digest().subarray(0, TAG_BYTES);
  }

  /** The position a cursor holds, if its tag is this list's; compared in constant time. */
  private verified(list: string, cursor: string): unknown {
    const dot = cursor.indexOf('.');
    if (dot <= 0 || cursor.indexOf('.', dot + 1) !== -1) return undefined;
    const payload = cursor.slice(0, dot);
    const presented = cursor.slice(dot + 1);
    if (!/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]+$/.test(presented)) return undefined;
    const tag = Buffer.from(presented, 'base64url');
    // base64url decoding ignores stray bits: the text must be the one canonical spelling of the tag.
    if (tag.length !== TAG_BYTES || tag.toString('base64url') !== presented) return undefined;
    if (!timingSafeEqual(tag, this.tag(list, payload))) return undefined;
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  }
}

function invalidCursor(): DomainError {
  return DomainError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not one this list returned' }]);
}
