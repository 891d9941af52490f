/** A provider's names for its errors, by what went wrong. */
export interface MockErrorNames {
  notFound: string;
  unauthenticated: string;
  serverError: string;
  /** Any other refusal of the request. */
  invalid: string;
}

/** The name a provider gives an error of this HTTP status (for errors raised before a mock's handler runs). */
export function mockErrorName(status: number, names: MockErrorNames): string {
  if (status === 404) return names.notFound;
  if (status === 401) return names.unauthenticated;
  return status >= 500 ? names.serverError : names.invalid;
}
