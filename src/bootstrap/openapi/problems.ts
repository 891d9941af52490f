import { ERROR_CODES } from '../../common/errors/error-codes';
import { PROBLEM_CONTENT_TYPE } from '../../common/errors/problem';

/** The statuses an operation may answer with a problem, and the name of the shared response for each. */
export const PROBLEM_RESPONSES: Record<number, { name: string; description: string }> = {
  400: { name: 'BadRequest', description: 'The request is malformed: a body, query or path value (`errors` lists each field)' },
  401: { name: 'Unauthenticated', description: 'No, bad or expired credentials' },
  403: { name: 'Forbidden', description: 'The caller’s role, key scope or suspension does not allow this' },
  404: { name: 'NotFound', description: 'No such resource, or the caller may not see it' },
  409: { name: 'Conflict', description: 'The resource’s state, a limit, or a request with this idempotency key still running' },
  413: { name: 'PayloadTooLarge', description: 'The request body is too large' },
  415: { name: 'UnsupportedMediaType', description: 'The request body is not JSON' },
  422: { name: 'IdempotencyKeyReused', description: 'This Idempotency-Key was used with another body or path' },
  429: { name: 'RateLimited', description: 'Too many requests; `Retry-After` says when to come back' },
  503: { name: 'ServiceUnavailable', description: 'A dependency is unavailable (e.g. the reference rate is stale)' },
};

const codesOf = (status: number) =>
  Object.entries(ERROR_CODES)
    .filter(([, entry]) => entry.status === status)
    .map(([code]) => `\`${code}\``);

/** RFC 9457 problem details with the stable `code` (API.md), and the shared responses that carry them. */
export function problemComponents() {
  const schemas = {
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details; `code` is stable and machine-readable',
      required: ['type', 'title', 'status', 'detail', 'code'],
      properties: {
        type: { type: 'string', format: 'uri-reference', description: 'identifies the problem type' },
        title: { type: 'string', example: 'Validation failed' },
        status: { type: 'integer', minimum: 400, maximum: 599, example: 400 },
        detail: { type: 'string', example: 'amountCny must be a decimal string like "12.34"' },
        code: { type: 'string', enum: Object.keys(ERROR_CODES), example: 'validation_failed' },
        instance: { type: 'string' },
        errors: {
          type: 'array',
          items: { $ref: '#/components/schemas/ProblemFieldError' },
          description: 'validation_failed: one per bad field',
        },
      },
      additionalProperties: true,
    },
    ProblemFieldError: {
      type: 'object',
      required: ['field', 'code', 'message'],
      properties: {
        field: { type: 'string', description: 'a JSON path such as `price.rate`', example: 'amountCny' },
        code: { type: 'string', example: 'not_a_string' },
        message: { type: 'string', example: 'amountCny must be a decimal string' },
      },
    },
  };
  const responses = Object.fromEntries(
    Object.entries(PROBLEM_RESPONSES).map(([status, { name, description }]) => {
      const codes = codesOf(Number(status));
      const retryAfter = Number(status) === 429;
      return [
        name,
        {
          description: codes.length ? `${description}. Codes: ${codes.join(', ')}` : description,
          content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
          ...(retryAfter
            ? { headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer', minimum: 0 } } } }
            : {}),
        },
      ];
    }),
  );
  return { schemas, responses };
}
