import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { ListCursors } from './cursors';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export class PageQuery {
  // `multipleOf: 1` documents the integer without narrowing the documented type (number) clients were given.
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, multipleOf: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page', maxLength: 512 })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** Builds a page from limit + 1 fetched rows: the extra row only says whether there is a next page. */
export function toPage<Row, Out, Position>(
  rows: Row[],
  limit: number,
  present: (row: Row) => Out,
  positionOf: (row: Row) => Position,
  cursors: ListCursors<Position>,
): Page<Out> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    data: pageRows.map(present),
    nextCursor: hasMore ? cursors.encode(positionOf(pageRows[pageRows.length - 1])) : null,
  };
}

/**
 * One page of a list kept in a stable order: `read` fetches `limit + 1` rows after the cursor's position (from the
 * start without one), and the next cursor is the last row's position.
 */
export async function readPage<Row, Out, Position>(
  query: PageQuery,
  cursors: ListCursors<Position>,
  read: (limit: number, after: Position | undefined) => Promise<Row[]>,
  present: (row: Row) => Out,
  positionOf: (row: Row) => Position,
): Promise<Page<Out>> {
  const limit = pageSize(query);
  const after = query.cursor ? cursors.decode(query.cursor) : undefined;
  return toPage(await read(limit + 1, after), limit, present, positionOf, cursors);
}

export function pageSize(query: PageQuery): number {
  return query.limit ?? DEFAULT_PAGE_SIZE;
}
