import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { Client } from 'pg';
import type { Operation } from './operations';
import type { Auth, FuzzCase } from './variants';
import { CursorFrom, describeValue, serialize } from './values';

export interface RawResponse {
  status: number;
  contentType: string;
  allow?: string;
  text: string;
}

export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** Sends exactly what it is given (a GET with a body, no content type, a bad Content-Length), unlike fetch. */
export function sendRaw(baseUrl: string, sent: SentRequest, timeoutMs = 30000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${sent.url}`, { method: sent.method, headers: sent.headers, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          allow: res.headers.allow,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    // The service may answer 413 before reading all of an oversized body; the answer is what counts.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' ? undefined : reject(error)));
    if (sent.body !== undefined) req.write(sent.body);
    req.end();
  });
}

export interface Principal {
  token: string;
}

/** What the fuzzer needs to fill a case in: a resource per path segment, a cursor per list, the principals. */
export interface Fixtures {
  resourceFor(operation: Operation, param: string): string;
  cursorFor(operation: Operation): string | undefined;
  principalsFor(operation: Operation): Principal[];
  /** Headers that sign a body, for operations a signature admits (provider callbacks). */
  signatureFor(operation: Operation, body: string): Record<string, string>;
}

function forgedJwt(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: '00000000-0000-0000-0000-000000000000', role: 'operator', exp: 4102444800 })}`;
  return `${unsigned}.${createHmac('sha256', 'not the secret').update(unsigned).digest('base64url')}`;
}

function authHeaders(auth: Auth, principal: Principal | undefined): Record<string, string> {
  switch (auth) {
    case 'right':
      return principal ? { authorization: `Bearer ${principal.token}` } : {};
    case 'junk-bearer':
      return { authorization: 'Bearer not.a.token' };
    case 'forged-jwt':
      return { authorization: `Bearer ${forgedJwt()}` };
    case 'junk-api-key':
      return { 'x-api-key': 'yb_fuzz_not_a_key' };
    case 'basic':
      return { authorization: 'Basic ZnV6ejpmdXp6' };
    default:
      return {};
  }
}

function cursorValue(value: CursorFrom, real: string | undefined): string {
  if (!real) return Buffer.from(serialize(value.replacement ?? {})).toString('base64url');
  if (value.replacement === undefined) return real;
  // A cursor is `<base64url JSON>.<tag>`: the position is edited and the tag kept, as a client forging one would.
  const [payload, tag] = real.split('.');
  const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const keys = Object.keys(decoded);
  // Which key to spoil follows from the replacement, so a seed replays the same cursor.
  const key = keys[serialize(value.replacement).length % Math.max(keys.length, 1)] ?? 'x';
  return `${Buffer.from(serialize({ ...decoded, [key]: value.replacement })).toString('base64url')}.${tag}`;
}

/** The concrete request of a case; `pick` chooses among the principals that pass the operation's guards. */
export function materialize(operation: Operation, fuzzCase: FuzzCase, fixtures: Fixtures, pick: number): SentRequest {
  const path = operation.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const value = fuzzCase.path[name];
    return value && 'raw' in value ? value.raw : encodeURIComponent(fixtures.resourceFor(operation, name));
  });
  const query = fuzzCase.query
    .map(([name, value]) => `${name}=${value instanceof CursorFrom ? cursorValue(value, fixtures.cursorFor(operation)) : value}`)
    .join('&');
  const principals = fixtures.principalsFor(operation);
  const headers: Record<string, string> = {
    ...authHeaders(fuzzCase.auth, principals[pick % Math.max(principals.length, 1)]),
    ...fuzzCase.headers,
  };
  let body: string | undefined;
  if ('json' in fuzzCase.body) body = serialize(fuzzCase.body.json);
  else if ('raw' in fuzzCase.body) body = fuzzCase.body.raw;
  if (fuzzCase.auth === 'right') Object.assign(headers, fixtures.signatureFor(operation, body ?? ''));
  if (body !== undefined && fuzzCase.contentType !== null) headers['content-type'] = fuzzCase.contentType ?? 'application/json';
  if (body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(body));
  if (headers['content-length'] === '0') body = undefined;
  return { method: fuzzCase.method ?? operation.method, url: query ? `${path}?${query}` : path, headers, body };
}

export function describeRequest(sent: SentRequest): string {
  const headers = Object.entries(sent.headers)
    .filter(([name]) => name !== 'authorization' && name !== 'content-length')
    .map(([name, value]) => `${name}: ${describeValue(value)}`)
    .join(', ');
  const body = sent.body === undefined ? '' : ` body ${describeValue(sent.body)}`;
  return `${sent.method} ${sent.url.length > 200 ? `${sent.url.slice(0, 200)}…` : sent.url} [${headers}]${body}`;
}

/** What is wrong with a response to a bad request, or undefined: below 500, and a 4xx is problem details. */
export function problemWith(response: RawResponse): string | undefined {
  if (response.status >= 500) return `status ${response.status}`;
  if (response.status < 400) return undefined;
  if (!response.contentType.startsWith('application/problem+json')) return `4xx with content-type "${response.contentType}"`;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(response.text) as Record<string, unknown>;
  } catch {
    return '4xx body is not JSON';
  }
  for (const field of ['type', 'title', 'detail', 'code'] as const)
    if (typeof body[field] !== 'string') return `4xx without a string \`${field}\``;
  if (body.status !== response.status) return `4xx whose body says status ${String(body.status)}`;
  if (response.status === 405 && !response.allow) return '405 without an Allow header';
  if (/at .*\.(js|ts):\d+|node_modules|QueryFailedError/.test(response.text)) return '4xx body shows internals';
  return undefined;
}

/** Tables only requests change, compared by content; every other table of the schema by row count. */
const HASHED = [
  'users',
  'api_keys',
  'exchange_requests',
  'offers',
  'trades',
  'disputes',
  'dispute_statements',
  'sandbox_faults',
  'bank_mock_accounts',
  'console_sessions',
];
/** Written by timers whatever the requests do. */
const IGNORED = ['reference_rates', 'provider_health', 'migrations', 'typeorm_metadata'];

export class TableSnapshots {
  private sql?: string;

  constructor(private readonly db: Client) {}

  async take(): Promise<Record<string, string>> {
    if (!this.sql) {
      const tables = (
        await this.db.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
      ).rows
        .map((r) => r.name)
        .filter((name) => !IGNORED.includes(name));
      this.sql = `SELECT ${tables
        .map((t) =>
          HASHED.includes(t)
            ? `(SELECT count(*) || ':' || coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') FROM "${t}" x) AS "${t}"`
            : `(SELECT count(*)::text FROM "${t}") AS "${t}"`,
        )
        .join(', ')}`;
    }
    return (await this.db.query<Record<string, string>>(this.sql)).rows[0];
  }

  static changed(before: Record<string, string>, after: Record<string, string>): string[] {
    return Object.keys(after).filter((t) => before[t] !== after[t]);
  }
}
