import { HttpException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { DomainError } from './domain-error';
import { codeForStatus, ERROR_CODES, ErrorCode } from './error-codes';
import { problemType } from './problem-types';
import { overloadError } from './overload';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  [extension: string]: unknown;
}

export interface Problem {
  status: number;
  body: ProblemBody;
  /** True for errors the client did not cause; they are logged with their stack. */
  unexpected: boolean;
}

/** The body parser's own code for a JSON body nested deeper than JSON_MAX_DEPTH. */
export const JSON_TOO_DEEP = 'YB_ERR_JSON_TOO_DEEP';
/** The body parser's own code for a JSON string escaping half a surrogate pair alone (not Unicode text). */
export const JSON_NOT_UNICODE = 'YB_ERR_JSON_NOT_UNICODE';

// Fastify's body-parser errors reach Nest as HttpExceptions whose cause carries Fastify's code.
const FASTIFY_CODES: Record<string, { code: ErrorCode; detail: string }> = {
  [JSON_TOO_DEEP]: { code: 'malformed_json', detail: 'The request body nests objects or arrays too deeply' },
  [JSON_NOT_UNICODE]: {
    code: 'malformed_json',
    detail: 'The request body has a string that is not Unicode (an unpaired surrogate escape)',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'malformed_json', detail: 'The request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'malformed_json', detail: 'The request body is empty' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', detail: 'The request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', detail: 'The content type is not supported; send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request', detail: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'unsupported_media_type', detail: 'The content type is not valid' },
};

// Errors of Fastify's router, raised before any route (and its validation) runs: the path is the bad value.
const ROUTER_CODES: Record<string, { code: string; message: string }> = {
  FST_ERR_BAD_URL: { code: 'invalid_encoding', message: 'The path is not valid percent-encoded UTF-8' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'too_long', message: 'A path segment is longer than any id' },
};

export function problem(
  code: ErrorCode,
  detail: string,
  extensions: Record<string, unknown> = {},
  status: number = ERROR_CODES[code].status,
): Problem {
  return {
    status,
    unexpected: status >= 500 && code === 'internal_error',
    body: { type: problemType(code), title: ERROR_CODES[code].title, status, detail, code, ...extensions },
  };
}

function fastifyCode(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; cause?: { code?: unknown } } | undefined;
  if (typeof candidate?.cause?.code === 'string') return candidate.cause.code;
  if (typeof candidate?.code === 'string') return candidate.code;
  return undefined;
}

/** Maps anything thrown while serving a request to the problem a client sees. Pure, so the idempotency layer can store the same body. */
export function toProblem(exception: unknown): Problem {
  if (exception instanceof DomainError) return problem(exception.code, exception.detail, exception.extensions);

  const busy = overloadError(exception);
  if (busy) return toProblem(busy);

  const routerError = ROUTER_CODES[fastifyCode(exception) ?? ''];
  if (routerError) return toProblem(DomainError.validation([{ field: 'path', ...routerError }]));

  const known = FASTIFY_CODES[fastifyCode(exception) ?? ''];
  if (known) return problem(known.code, known.detail);

  if (exception instanceof ThrottlerException) return problem('rate_limited', 'Too many requests; retry after the time in Retry-After');

  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = codeForStatus(status);
    if (status >= 500) return problem(code, 'The service could not complete the request', {}, status);
    const detail = status === 404 ? 'No such resource' : ERROR_CODES[code].title;
    return problem(code, detail, {}, status);
  }

  // Errors thrown by Fastify itself (not wrapped by Nest) carry a statusCode below 500 for client mistakes.
  const statusCode = (exception as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return problem(codeForStatus(statusCode), ERROR_CODES[codeForStatus(statusCode)].title, {}, statusCode);
  }

  return problem('internal_error', 'An unexpected error occurred');
}
