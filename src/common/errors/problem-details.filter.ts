import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { PreparedResponse } from '../http/prepared-response';
import { bearerChallenge } from '../http/www-authenticate';
import { foreignErrorFormatFor } from './foreign-error-formats';
import { DomainError } from './domain-error';
import { overloadError, overloadReason } from './overload';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem';
import { safeErrorForLog } from './safe-error';

/** The one exception filter: every error leaves as RFC 9457 problem details, without internals. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent) return;

    if (exception instanceof PreparedResponse) {
      void reply.status(exception.status).headers(exception.headers).send(exception.body);
      return;
    }

    sendProblem(exception, request, reply, this.logger);
  }
}

/**
 * Answers an error as problem details (or in a mock's provider format). Also Fastify's `frameworkErrors`
 * handler: errors its router raises before any route runs (a path that is not valid percent-encoding, a
 * path segment too long) never reach Nest's filter.
 */
export function sendProblem(exception: unknown, request: FastifyRequest, reply: FastifyReply, logger = new Logger('Errors')): void {
  // Load, not a fault: a 503 service_busy with Retry-After, one warning with the reason (no query, no parameters).
  const busy = overloadError(exception);
  if (busy) {
    logger.warn({ reason: overloadReason(exception), requestId: request.id, route: request.routeOptions?.url }, 'Service busy');
    exception = busy;
  }
  const allowed = toProblem(exception).status === 404 ? allowedMethods(request) : [];
  if (allowed.length > 0) {
    exception = new DomainError('method_not_allowed', `${request.method} is not allowed here; use ${allowed.join(', ')}`);
    void reply.header('allow', allowed.join(', '));
  }
  const { status, body, unexpected } = toProblem(exception);
  if (unexpected) {
    logger.error({ error: safeErrorForLog(exception), requestId: request.id, route: request.routeOptions?.url }, 'Unhandled error');
  }
  if (exception instanceof DomainError && exception.headers) void reply.headers(exception.headers);
  const retryAfter = (exception as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if (status === 429) setRetryAfter(reply, retryAfter);
  if (status === 503) setRetryAfter(reply, typeof retryAfter === 'number' ? retryAfter : UNAVAILABLE_RETRY_AFTER_SECONDS);
  const path = request.url.split('?')[0];
  const foreign = foreignErrorFormatFor(path);
  if (foreign) {
    const formatted = foreign.format({ status, code: body.code, detail: body.detail, errors: body.errors });
    void reply.status(formatted.status).header('content-type', formatted.contentType).send(formatted.body);
    return;
  }
  // RFC 9110: every 401 names a scheme. The guard says why a credential was refused; other 401s (a wrong
  // password asked again, an account gone) name the scheme alone.
  if (body.code === 'unauthenticated' && !reply.hasHeader('www-authenticate')) void reply.header('www-authenticate', bearerChallenge({}));
  void reply
    .status(status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send({ ...body, instance: `${path}#${request.id}` });
}

/**
 * `Retry-After` of a 503 that does not know better (a provider or the database not answering, the readiness
 * probe): a short wait, so a client that honours it neither hammers an outage nor waits long after it ends.
 */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** For a request no route matched: the methods its path is served with (API.md: 405 with `Allow`), if any. */
function allowedMethods(request: FastifyRequest): string[] {
  if (request.routeOptions?.url) return [];
  const url = request.url.split('?')[0];
  return METHODS.filter((method) => method !== request.method && request.server.findRoute({ method: method as HTTPMethods, url }) !== null);
}

/**
 * The limiter names its header per throttler (`Retry-After-user`); clients expect the standard one. Errors of
 * our own may say how long instead (`retryAfterSeconds`).
 */
function setRetryAfter(reply: FastifyReply, own: unknown): void {
  const seconds = Object.entries(reply.getHeaders())
    .filter(([name]) => name.toLowerCase().startsWith('retry-after'))
    .map(([, value]) => Number(value))
    .concat(typeof own === 'number' ? [own] : [])
    .filter((value) => Number.isFinite(value) && value > 0);
  void reply.header('retry-after', String(seconds.length > 0 ? Math.max(...seconds) : 1));
}
