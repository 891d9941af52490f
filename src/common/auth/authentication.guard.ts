import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../errors';
import type { AuthUser } from './auth-user';
import { AUTHENTICATOR, type Authenticator } from './authenticator';
import { IS_PUBLIC } from './decorators';
import { bearerChallenge } from '../http/www-authenticate';

/**
 * Every route needs a Bearer token or an API key unless it is marked @Public(). The credentials are checked by
 * the users module's authenticator directly (passport's strategy chain cost more than the checks themselves).
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTHENTICATOR) private readonly authenticator: Authenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthUser }>();
    // A failed check (the database did not answer) is an outage, not bad credentials: it stays a 5xx.
    return this.authenticator.authenticate(request).then(({ user, jwtFailure }) => {
      if (!user) throw unauthenticated(request, jwtFailure);
      request.user = user;
      return true;
    });
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
