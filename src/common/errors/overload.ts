import { DomainError } from './domain-error';

/** PostgreSQL's codes for work it gave up on because of load, never because of the request's content. */
const BUSY_SQLSTATES: Record<string, string> = {
  '57014': 'statement_timeout',
  '55P03': 'lock_timeout',
  '53300': 'too_many_connections',
};

/** The pg pool's and client's messages when no connection came within DATABASE_CONNECT_TIMEOUT_MS. */
const BUSY_MESSAGES: Record<string, string> = {
  'timeout exceeded when trying to connect': 'pool_timeout',
  'Connection terminated due to connection timeout': 'connect_timeout',
};

/** Seconds a client is told to wait before retrying: the pool and the lock waits clear within moments. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * Why the database refused for load (`pool_timeout`, `statement_timeout`, …), or undefined for any other error.
 * Only codes and the driver's fixed messages are read: the reason is safe to log.
 */
export function overloadReason(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { driverError?: { code?: unknown }; code?: unknown }).driverError?.code ?? (error as { code?: unknown }).code;
  if (typeof code === 'string' && BUSY_SQLSTATES[code]) return BUSY_SQLSTATES[code];
  return BUSY_MESSAGES[error.message];
}

/** A 503 `service_busy` with Retry-After for an error the load caused, else undefined. */
export function overloadError(error: unknown): DomainError | undefined {
  const reason = overloadReason(error);
  if (!reason) return undefined;
  const busy = new DomainError('service_busy', 'The service is busy; retry after the time in Retry-After');
  busy.retryAfterSeconds = BUSY_RETRY_AFTER_SECONDS;
  return busy;
}
