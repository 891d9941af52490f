import type { FastifyInstance } from 'fastify';
import {
  DomainError,
  ERROR_CODES,
  ErrorCode,
  isProblemCode,
  PROBLEM_TYPE_PATH,
  problemType,
  problemTypePage,
  sendProblem,
} from '../common/errors';

const HTML = 'text/html; charset=utf-8';
// The pages change only with a release.
const CACHE = 'public, max-age=3600';

/**
 * The pages problems' `type` members point to (`/problems/<code>`): what the code means and what to do, one short
 * page each, and an index. Public, outside `/v1` (they are documentation, not API), an unknown code is 404.
 */
export function serveProblemTypes(fastify: FastifyInstance): void {
  fastify.get(PROBLEM_TYPE_PATH, (_request, reply) => {
    const items = Object.entries(ERROR_CODES)
      .map(
        ([code, { status, title }]) => `<li><a href="${problemType(code as ErrorCode)}"><code>${code}</code></a> ${status} ${title}</li>`,
      )
      .join('\n');
    const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Problem types · Yuanbridge API</title></head>
<body><main><h1>Problem types</h1><ul>
${items}
</ul></main></body></html>
`;
    void reply.header('content-type', HTML).header('cache-control', CACHE).send(page);
  });
  fastify.get(`${PROBLEM_TYPE_PATH}/:code`, (request, reply) => {
    const { code } = request.params as { code: string };
    if (!isProblemCode(code)) return sendProblem(DomainError.notFound('Problem type'), request, reply);
    void reply.header('content-type', HTML).header('cache-control', CACHE).send(problemTypePage(code));
  });
}
