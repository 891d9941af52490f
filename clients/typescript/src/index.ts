import createClient from 'openapi-fetch';
import type { Client, Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema';

export type { components, operations, paths };
/** A schema of the API by name: `Schema<'TradeView'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];
export type Problem = components['schemas']['Problem'];
export type ProblemCode = Problem['code'];

export interface YuanbridgeClientOptions {
  /** Where the API is, e.g. `http://127.0.0.1:3000` (no trailing `/v1`: paths carry it). */
  baseUrl: string;
  /** An access token from `POST /v1/auth/login`, sent as `Authorization: Bearer …`. */
  token?: string;
  /** An API key from `POST /v1/me/api-keys`, sent as `X-Api-Key` (a token wins when both are given). */
  apiKey?: string;
  /**
   * `true` sends a fresh `Idempotency-Key` with every POST that does not carry one, so a retried call has no second
   * effect. A caller who retries by hand passes its own key in `params.header` instead.
   */
  idempotencyKeys?: boolean;
  /** Another fetch (a test double, an instrumented one); `globalThis.fetch` by default. */
  fetch?: (request: Request) => Promise<Response>;
}

export type YuanbridgeClient = Client<paths, 'application/json'>;

/** An answer that is not 2xx: the service's problem details (RFC 9457) with their stable `code`. */
export class YuanbridgeProblem extends Error {
  readonly status: number;
  readonly code: ProblemCode | undefined;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(`${status} ${problem.code ?? 'error'}: ${problem.detail ?? problem.title ?? 'no detail'}`);
    this.name = 'YuanbridgeProblem';
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
  }
}

/** A typed client over openapi-fetch: every path, parameter, body and answer as `openapi.json` describes it. */
export function createYuanbridgeClient(options: YuanbridgeClientOptions): YuanbridgeClient {
  const client = createClient<paths, 'application/json'>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use(authenticate(options));
  return client;
}

function authenticate({ token, apiKey, idempotencyKeys }: YuanbridgeClientOptions): Middleware {
  return {
    onRequest({ request }) {
      if (token) request.headers.set('Authorization', `Bearer ${token}`);
      else if (apiKey) request.headers.set('X-Api-Key', apiKey);
      if (idempotencyKeys && request.method === 'POST' && !request.headers.has('Idempotency-Key')) {
        request.headers.set('Idempotency-Key', crypto.randomUUID());
      }
      return request;
    },
  };
}

interface CallResult<Data> {
  data?: Data;
  error?: unknown;
  response: Response;
}

/**
 * The data of a successful call, or a `YuanbridgeProblem` thrown for any other answer:
 * `const trade = await ok(client.GET('/v1/trades/{id}', { params: { path: { id } } }))`.
 * Answers without a body (204) give `undefined`.
 */
export async function ok<Data>(call: Promise<CallResult<Data>> | CallResult<Data>): Promise<Data> {
  const { data, error, response } = await call;
  if (response.ok) return data as Data;
  throw new YuanbridgeProblem(response.status, toProblem(error, response));
}

/** The problem details of a failed call's `error` (or a stand-in when the body was not problem details). */
export function toProblem(error: unknown, response: Response): Problem {
  if (error && typeof error === 'object' && 'status' in error) return error as Problem;
  return {
    type: 'about:blank',
    title: response.statusText || 'Error',
    status: response.status,
    detail: typeof error === 'string' ? error : undefined,
  } as Problem;
}
