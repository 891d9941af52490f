import { BullBoardModule } from '@bull-board/nestjs';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { DynamicModule } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import { DataSource } from 'typeorm';
import { AuditModule } from '../audit/audit.module';
import { AuditRepository } from '../audit/audit.repository';
import { PROBLEM_CONTENT_TYPE, problem } from '../common/errors/problem';
import { changesState, fromThisOrigin } from '../common/http/same-origin';
import { bearerChallenge } from '../common/http/www-authenticate';
import { loadJobsConfig } from '../config';
import { ALL_QUEUES } from '../queues/queue-names';
import { SESSION_COOKIE } from '../users/auth.controller';
import { ConsoleSessionsRepository } from '../users/console-sessions.repository';
import { UsersRepository } from '../users/users.repository';
import { queueDashboardGate, rememberOperator } from './queue-dashboard-actions';

export const QUEUE_DASHBOARD_ROUTE = '/admin/queues';

/**
 * bull-board at /admin/queues, listing every queue. Read-only unless `QUEUE_DASHBOARD_ACTIONS` is on; then each
 * mutating action is written to the operator audit log before it runs (queue-dashboard-actions.ts).
 */
export function queueDashboardModules(): DynamicModule[] {
  const actions = loadJobsConfig().queueDashboardActions;
  return [
    BullBoardModule.forRootAsync({
      imports: [AuditModule],
      inject: [AuditRepository, DataSource],
      useFactory: (audit: AuditRepository, dataSource: DataSource) => ({
        route: QUEUE_DASHBOARD_ROUTE,
        adapter: BullBoardFastifyAdapter,
        boardOptions: { handlerHooks: { before: queueDashboardGate(actions, audit, dataSource) } },
      }),
    }),
    ...ALL_QUEUES.map((name) => BullBoardModule.forFeature({ name, adapter: BullMQAdapter, options: { readOnlyMode: !actions } })),
  ];
}

function isQueueDashboardRoute(route: string | undefined): boolean {
  return route !== undefined && (route === QUEUE_DASHBOARD_ROUTE || route.startsWith(`${QUEUE_DASHBOARD_ROUTE}/`));
}

/** A `<link>` to another host (`https://…`, `http://…`, `//…`), with the whitespace after it. */
const EXTERNAL_LINK = /<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\/[^>]*>\s*/gi;

/**
 * bull-board's page template asks Google Fonts for its typefaces, a request to another host that the security
 * policy blocks anyway (the page falls back to the system's sans-serif). No option turns it off (only a copy of
 * the whole UI package under `uiBasePath`), so the dashboard's HTML pages leave without such links.
 */
function keepQueueDashboardLocal(fastify: FastifyInstance): void {
  // Synchronous: it runs for every answer.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (!isQueueDashboardRoute(request.routeOptions.url) || typeof payload !== 'string') return done(null, payload);
    const type = reply.getHeader('content-type');
    if (typeof type !== 'string' || !type.startsWith('text/html')) return done(null, payload);
    reply.removeHeader('content-length');
    done(null, payload.replace(EXTERNAL_LINK, ''));
  });
}

/**
 * bull-board's routes are plain Fastify routes, outside Nest's guards, so an onRequest hook admits
 * operators only: a valid Bearer token, or a live console session (the cookie's token, looked up in
 * console_sessions), of a user whose role is still `operator` and who is not suspended.
 */
export function protectQueueDashboard(fastify: FastifyInstance, app: () => NestFastifyApplication | undefined): void {
  keepQueueDashboardLocal(fastify);
  fastify.addHook('onRequest', async (request, reply) => {
    // Decide on the route Fastify matched, not the raw URL: the router decodes percent-escapes, so a
    // raw-prefix check would let /admin/%71ueues through.
    if (!isQueueDashboardRoute(request.routeOptions.url)) return;
    // The dashboard's actions (PUT, POST, DELETE) are taken only from its own pages, never another site's.
    if (changesState(request.method) && !fromThisOrigin(request)) {
      const { status, body } = problem('forbidden', 'Queue dashboard actions are taken only from its own pages');
      return reply.status(status).header('content-type', PROBLEM_CONTENT_TYPE).header('cache-control', 'no-store').send(body);
    }
    const nest = app();
    const header = request.headers.authorization;
    const bearer = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    // Browsers fetch the dashboard's scripts without the header, so the console's cookie also admits.
    // This hook runs before the cookie plugin's own, so it parses the header itself.
    const session =
      bearer === undefined && request.headers.cookie ? fastify.parseCookie(request.headers.cookie)[SESSION_COOKIE] : undefined;
    const token = bearer ?? session;
    let allowed = false;
    let known = false;
    if (nest && token) {
      try {
        const userId =
          bearer !== undefined ? await bearerUserId(nest, bearer) : await nest.get(ConsoleSessionsRepository).findUserId(token);
        const principal = userId ? await nest.get(UsersRepository).findPrincipal(userId) : null;
        known = principal !== null;
        allowed = principal?.role === 'operator' && !principal.suspended;
        if (allowed && userId) rememberOperator(request.headers, userId);
      } catch {
        allowed = false;
      }
    }
    // A browser without a live session goes to the console's sign-in page and comes back here; API clients
    // (and a signed-in user who may not see it) keep the problem.
    if (!allowed && !known && request.method === 'GET' && acceptsHtml(request.headers.accept)) {
      const next = request.url.startsWith(QUEUE_DASHBOARD_ROUTE) && !request.url.includes('//') ? request.url : QUEUE_DASHBOARD_ROUTE;
      return reply
        .status(303)
        .header('cache-control', 'no-store')
        .header('location', `/admin/sign-in?next=${encodeURIComponent(next)}`)
        .send();
    }
    if (!allowed) {
      const { status, body } = problem(token ? 'forbidden' : 'unauthenticated', 'The queue dashboard is for operators');
      if (!token) void reply.header('www-authenticate', bearerChallenge({}));
      return reply.status(status).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
    }
  });
}

/** A browser's page navigation asks for HTML; fetches of the dashboard's API and assets do not. */
function acceptsHtml(accept: string | undefined): boolean {
  return typeof accept === 'string' && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

async function bearerUserId(nest: NestFastifyApplication, token: string): Promise<string | undefined> {
  const payload = await nest.get(JwtService).verifyAsync<{ sub?: string }>(token, { algorithms: ['HS256'] });
  return payload.sub;
}
