import type { FastifyInstance } from 'fastify';
import { DomainError, sendProblem } from '../common/errors';

/** `application/json`, or any `application/…+json` type, with or without parameters (API.md). */
const JSON_MEDIA_TYPE = /^application\/(?:json|[\w.!#$&^-]+\+json)\s*(?:;|$)/i;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isJsonMediaType(contentType: string | undefined): boolean {
  return typeof contentType === 'string' && JSON_MEDIA_TYPE.test(contentType.trim());
}

/** Whether the request comes with a body: the same test Fastify makes before it picks a parser. */
function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function isApiPath(path: string): boolean {
  return path === '/v1' || path.startsWith('/v1/');
}

/**
 * API.md: a `/v1` request whose body is not JSON is 415 `unsupported_media_type`, answered before anything else
 * (authentication, validation, the router's 404 and 405). Fastify would otherwise parse a form or `text/plain`
 * with its default parsers and the client would get field errors. The sandbox's pages and the operator console
 * keep their forms: the check is for `/v1` only, on the route Fastify matched when there is one (so a path
 * spelled differently cannot slip past) and on the path itself when none matched.
 */
export function refuseNonJsonBodies(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const path = request.routeOptions.url ?? request.url.split('?')[0];
    const contentType = request.headers['content-type'];
    if (!BODY_METHODS.has(request.method) || !isApiPath(path) || !hasBody(request.headers) || isJsonMediaType(contentType)) {
      return done();
    }
    const sent = contentType === undefined ? 'no content type' : `${contentType.split(';')[0].trim().slice(0, 100)}`;
    sendProblem(
      new DomainError('unsupported_media_type', `The body must be JSON (application/json or a +json type); it was sent as ${sent}`),
      request,
      reply,
    );
  });
}
