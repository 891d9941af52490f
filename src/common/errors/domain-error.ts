import { ERROR_CODES, ErrorCode } from './error-codes';

export interface FieldError {
  /** JSON path of the bad value, such as `price.rate`. */
  field: string;
  code: string;
  message: string;
}

/**
 * An error a client can act on: a stable code, its HTTP status, and a detail written for the client.
 * Services throw these; the one exception filter turns them into problem details.
 */
export class DomainError extends Error {
  readonly status: number;
  /** For a 429 or a 503: when to come back, sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /** Headers the answer carries besides the problem (a 401's `WWW-Authenticate`). */
  headers?: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'DomainError';
    this.status = ERROR_CODES[code].status;
  }

  static validation(errors: FieldError[]): DomainError {
    const fields = errors.map((e) => e.field).join(', ');
    return new DomainError('validation_failed', `Invalid value for: ${fields}`, { errors });
  }

  /** 429 `rate_limited`, with the seconds until the limit lets the caller through again (`Retry-After`). */
  static rateLimited(detail: string, retryAfterSeconds: number): DomainError {
    const error = new DomainError('rate_limited', detail);
    error.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
    return error;
  }

  /** 503 `service_unavailable`, with the seconds after which to try again (`Retry-After`). */
  static unavailable(detail: string, retryAfterSeconds: number): DomainError {
    const error = new DomainError('service_unavailable', detail);
    error.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
    return error;
  }

  static notFound(what: string): DomainError {
    return new DomainError('not_found', `${what} not found`);
  }
}
