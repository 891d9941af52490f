/**
 * What of an unexpected error may be logged. Database errors carry the query's parameters (passwords'
 * hashes, keys, handles) and messages that quote input, so only their codes and the failing statement's
 * first words are kept.
 */
export function safeErrorForLog(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const e = error as Error & { query?: unknown; driverError?: { code?: string; routine?: string; constraint?: string } };
  if (e.name === 'QueryFailedError' || e.driverError) {
    return {
      type: e.name,
      code: e.driverError?.code,
      routine: e.driverError?.routine,
      constraint: e.driverError?.constraint,
      statement: typeof e.query === 'string' ? e.query.trim().split(/\s+/).slice(0, 4).join(' ') : undefined,
      stack: e.stack?.split('\n').slice(1).join('\n'),
    };
  }
  return { type: e.name, message: e.message, stack: e.stack };
}
