import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../errors';
import { IS_PUBLIC } from './decorators';
import { bearerChallenge } from '../http/www-authenticate';

/** Every route needs a Bearer token or an API key unless it is marked @Public(). */
@Injectable()
export class AuthenticationGuard extends AuthGuard(['jwt', 'api-key']) {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    return super.canActivate(context);
  }

  /** `info` holds each strategy's reason for failing, in order: the JWT's first (passport-jwt's verification error). */
  override handleRequest<TUser>(error: unknown, user: TUser | false, info: unknown, context: ExecutionContext): TUser {
    // A strategy's error is an outage (the database did not answer), not bad credentials: keep it a 5xx.
    if (error) throw error;
    if (user) return user;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const jwtFailure = Array.isArray(info) ? (info[0] as unknown) : info;
    throw unauthenticated(request, jwtFailure);
  }
}

/**
 * Which credentials were wrong, and how (API.md: the `error_description` says whether a token is missing,
 * invalid or expired). A Bearer token is judged before an API key, as the strategies run.
 */
function unauthenticated(request: FastifyRequest, jwtFailure: unknown): DomainError {
  const authorization = request.headers.authorization;
  const bearer = typeof authorization === 'string' && /^Bearer\s+\S/i.test(authorization);
  if (bearer) {
    const expired = (jwtFailure as { name?: unknown } | undefined)?.name === 'TokenExpiredError';
    const description = expired ? 'The access token expired' : 'The access token is invalid';
    const detail = expired ? 'The access token expired: sign in again for a new one' : 'The access token is invalid';
    return withChallenge(detail, bearerChallenge({ error: 'invalid_token', description }));
  }
  if (request.headers['x-api-key'] !== undefined) {
    return withChallenge('The API key is invalid, revoked or expired', bearerChallenge({}));
  }
  if (authorization !== undefined) {
    return withChallenge(
      'The Authorization header is not a Bearer token',
      bearerChallenge({ error: 'invalid_request', description: 'The Authorization header is not a Bearer token' }),
    );
  }
  return withChallenge('No credentials: send a Bearer token or an X-Api-Key', bearerChallenge({}));
}

function withChallenge(detail: string, challenge: string): DomainError {
  const error = new DomainError('unauthenticated', detail);
  error.headers = { 'www-authenticate': challenge };
  return error;
}
