/**
 * A response decided before the handler ran (an idempotent replay). Thrown so that it leaves through
 * the one exception filter, which sends it as it is.
 */
export class PreparedResponse {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string>,
  ) {}
}
