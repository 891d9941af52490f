import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from '../common/errors';
import type { OperationsConfig } from '../config';

export const METRICS_ROUTE = '/metrics';
const DOCS_ROUTES = ['/docs', '/docs-json', '/docs-yaml'];

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Whether an Authorization header carries the token, compared in constant time (hashes: equal lengths whatever the input). */
export function carriesToken(header: string | undefined, token: string, options: { basic: boolean }): boolean {
  if (typeof header !== 'string') return false;
  let presented: string | undefined;
  if (/^Bearer /i.test(header)) presented = header.slice(7).trim();
  else if (options.basic && /^Basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    // Any user name; the token is the password.
    presented = decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : undefined;
  }
  return presented !== undefined && timingSafeEqual(digest(presented), digest(token));
}

function isDocsRoute(route: string): boolean {
  return DOCS_ROUTES.includes(route) || route.startsWith('/docs/');
}

/**
 * `/metrics` and the OpenAPI docs answer only the configured tokens (METRICS_TOKEN, DOCS_TOKEN), checked on the route
 * Fastify matched (so a percent-escaped path cannot slip past). Unset tokens leave them open, as in development.
 */
export function protectOperationsEndpoints(fastify: FastifyInstance, config: OperationsConfig): void {
  // Synchronous (it runs for every request); a refusal is sent instead of calling `done`.
  fastify.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route === undefined) return done();
    const docs = isDocsRoute(route);
    const token = route === METRICS_ROUTE ? config.metricsToken : docs ? config.docsToken : undefined;
    if (token === undefined || carriesToken(request.headers.authorization, token, { basic: docs })) return done();
    const { status, body } = problem('unauthenticated', docs ? 'The API docs need the docs token' : 'Metrics need the metrics token');
    // A browser asks for the docs token as a password.
    if (docs) void reply.header('www-authenticate', 'Basic realm="Yuanbridge API docs", charset="UTF-8"');
    else void reply.header('www-authenticate', 'Bearer realm="metrics"');
    void reply.status(status).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
  });
}
