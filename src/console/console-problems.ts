import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProblemBody } from '../common/errors';
import { PROBLEM_CONTENT_TYPE } from '../common/errors/problem';
import { isConsolePath } from '../common/http/same-origin';
import { consoleHeaders } from './console-http';
import { html } from './html';
import { layout } from './layout';
import { problemNotice } from './problem-view';

/** The queue dashboard keeps its problem+json: its pages' scripts read them. */
const QUEUE_DASHBOARD = /^\/+admin\/+queues(?:[/?#]|$)/i;

/**
 * Whatever answers a problem under /admin outside the console's controllers (an unknown path, a trailing slash,
 * the framework's refusals of a body or a URL) is shown as a console page: the console's policy, never stored.
 */
export function renderConsoleProblems(fastify: FastifyInstance): void {
  // Synchronous: it runs for every answer.
  fastify.addHook('onSend', (request, reply, payload, done) => done(null, asConsoleProblemPage(request, reply, payload)));
}

function asConsoleProblemPage(request: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
  const type = reply.getHeader('content-type');
  if (typeof type !== 'string' || !type.startsWith(PROBLEM_CONTENT_TYPE) || typeof payload !== 'string') return payload;
  if (!showsConsoleProblems(request.url) || QUEUE_DASHBOARD.test(request.routeOptions.url ?? '')) return payload;
  let problem: { title?: unknown; detail?: unknown; status?: unknown; code?: unknown; errors?: unknown };
  try {
    problem = JSON.parse(payload) as typeof problem;
  } catch {
    return payload;
  }
  const status = typeof problem.status === 'number' ? problem.status : reply.statusCode;
  consoleHeaders(reply).header('content-type', 'text/html; charset=utf-8').removeHeader('content-length');
  return consoleProblemPage({ ...problem, status });
}

/** Whether a problem for this path is shown as a console page (the console's paths, but the queue dashboard's). */
export function showsConsoleProblems(url: string): boolean {
  return isConsolePath(url) && !QUEUE_DASHBOARD.test(url);
}

/** A problem as a console page, for a request no console controller answered. */
export function consoleProblemPage(problem: {
  title?: unknown;
  detail?: unknown;
  status: number;
  code?: unknown;
  errors?: unknown;
}): string {
  const title = problem.status === 404 ? 'Not found' : String(problem.title ?? 'Error');
  return layout({
    title,
    body: html`<h1>${title}</h1>
      ${problemNotice({
        title: String(problem.title ?? title),
        detail: String(problem.detail ?? ''),
        status: problem.status,
        code: String(problem.code ?? '') as ProblemBody['code'],
        errors: problem.errors,
      })}
      <p><a href="/admin">Back to the console</a></p>`,
  }).toString();
}
