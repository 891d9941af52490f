import { ForeignErrorFormat, registerForeignErrorFormat } from '../common/errors/foreign-error-formats';

/** A provider's names for its errors, by what went wrong. */
export interface MockErrorNames {
  notFound: string;
  unauthenticated: string;
  serverError: string;
  /** Any other refusal of the request. */
  invalid: string;
}

type Problem = Parameters<ForeignErrorFormat['format']>[0];

/** The name a provider gives an error of this HTTP status (for errors raised before a mock's handler runs). */
export function mockErrorName(status: number, names: MockErrorNames): string {
  if (status === 404) return names.notFound;
  if (status === 401) return names.unauthenticated;
  return status >= 500 ? names.serverError : names.invalid;
}

/**
 * Errors raised under `prefix` before a mock's handler runs (bad JSON, oversized bodies, unknown routes) answer
 * the provider's way: a JSON body, built by `body` from the provider's name for the error.
 */
export function registerMockErrorFormat(
  prefix: string,
  names: MockErrorNames,
  body: (name: string, problem: Problem) => Record<string, unknown>,
): void {
  registerForeignErrorFormat({
    prefix,
    format: (problem) => ({
      status: problem.status,
      contentType: 'application/json',
      body: body(mockErrorName(problem.status, names), problem),
    }),
  });
}
