import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DomainError } from '../errors';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to clients: base64url of a small JSON object the list's repository defines. */
export function encodeCursor(position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T extends Record<string, unknown>>(cursor: string, isValid: (value: unknown) => value is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isValid(value)) return value;
  } catch {
    // falls through to the validation error
  }
  throw DomainError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not one this list returned' }]);
}

/** Builds a page from limit + 1 fetched rows: the extra row only says whether there is a next page. */
export function toPage<Row, Out>(
  rows: Row[],
  limit: number,
  present: (row: Row) => Out,
  positionOf: (row: Row) => Record<string, unknown>,
): Page<Out> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    data: pageRows.map(present),
    nextCursor: hasMore ? encodeCursor(positionOf(pageRows[pageRows.length - 1])) : null,
  };
}

/**
 * One page of a list kept in a stable order: `read` fetches `limit + 1` rows after the cursor's position (from the
 * start without one), and the next cursor is the last row's position.
 */
export async function readPage<Row, Out, Position extends Record<string, unknown>>(
  query: PageQuery,
  isPosition: (value: unknown) => value is Position,
  read: (limit: number, after: Position | undefined) => Promise<Row[]>,
  present: (row: Row) => Out,
  positionOf: (row: Row) => Position,
): Promise<Page<Out>> {
  const limit = pageSize(query);
  const after = query.cursor ? decodeCursor(query.cursor, isPosition) : undefined;
  return toPage(await read(limit + 1, after), limit, present, positionOf);
}

export function pageSize(query: PageQuery): number {
  return query.limit ?? DEFAULT_PAGE_SIZE;
}
