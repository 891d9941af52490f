import { applyDecorators, CanActivate, createParamDecorator, ExecutionContext, Injectable, UseFilters, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../common/auth/decorators';
import { DomainError } from '../common/errors';
import { changesState, fromThisOrigin } from '../common/http/same-origin';
import { SESSION_COOKIE } from '../users/auth.controller';
import { ConsoleSessionsRepository } from '../users/console-sessions.repository';
import { UsersRepository } from '../users/users.repository';
import { ConsoleCsrf } from './console-csrf';
import { ConsoleErrorsFilter } from './console-errors.filter';
import { ConsoleRedirect, formField, safeNext } from './console-http';
import type { ConsoleRequest, SignedInOperator } from './signed-in';

export type { ConsoleRequest, SignedInOperator } from './signed-in';

/** Where a request without a session goes: the sign-in page, and back to the page asked for (GET only). */
export function signInLocation(request: FastifyRequest): string {
  const next = request.method === 'GET' ? safeNext(request.url) : '/admin';
  return next === '/admin' ? '/admin/sign-in' : `/admin/sign-in?next=${encodeURIComponent(next)}`;
}

/**
 * The console's authentication: the session cookie (never a Bearer token or an API key) resolved to a live
 * session of an operator who is not suspended; without one, 303 to the sign-in page. Every other method than
 * GET must come from the console's own pages (Origin, Sec-Fetch-Site) and carry the session's CSRF token in its
 * form (403, nothing done, otherwise).
 */
@Injectable()
export class ConsoleSessionGuard implements CanActivate {
  constructor(
    private readonly sessions: ConsoleSessionsRepository,
    private readonly users: UsersRepository,
    private readonly csrf: ConsoleCsrf,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<ConsoleRequest>();
    const token = request.cookies?.[SESSION_COOKIE];
    const userId = token ? await this.sessions.findUserId(token) : null;
    const principal = userId ? await this.users.findPrincipal(userId) : null;
    if (!token || !principal || principal.role !== 'operator') throw new ConsoleRedirect(signInLocation(request));
    if (principal.suspended) throw new DomainError('account_suspended', 'The operator account is suspended');
    if (changesState(request.method) && !fromThisOrigin(request)) throw crossOriginRefusal();
    if (changesState(request.method) && !this.csrf.checkSession(token, formField(request.body, 'csrf'))) {
      throw new DomainError('forbidden', 'The form did not come from this console or has expired: reload the page and try again');
    }
    request.consoleOperator = {
      operator: { id: principal.id, role: principal.role, tier: principal.tier, suspended: false, via: 'jwt' },
      viewer: { operatorId: principal.id, csrfToken: this.csrf.forSession(token) },
      sessionToken: token,
    };
    return true;
  }
}

/** A form post a browser says came from another site's page (console-http.ts' fromThisOrigin). */
export function crossOriginRefusal(): DomainError {
  return new DomainError('forbidden', 'The form was sent from a page of another site: the console takes forms only from its own pages');
}

/** A console controller: outside the /v1 guard (no Bearer or API key), out of the API docs, errors as HTML pages. */
export const ConsolePages = () => applyDecorators(Public(), ApiExcludeController(), UseFilters(ConsoleErrorsFilter));

/** A page or form post for signed-in operators only (ConsoleSessionGuard). */
export const SignedIn = () => UseGuards(ConsoleSessionGuard);

/** The signed-in operator of the request (in a controller or handler under `SignedIn()`). */
export const ConsoleOperator = createParamDecorator((_data: unknown, context: ExecutionContext): SignedInOperator => {
  const signedIn = context.switchToHttp().getRequest<ConsoleRequest>().consoleOperator;
  if (!signedIn) throw new Error('ConsoleOperator used on a route without SignedIn()');
  return signedIn;
});
