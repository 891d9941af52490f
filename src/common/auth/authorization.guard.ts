import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../errors';
import type { ApiKeyScope, AuthUser, UserRole } from './auth-user';
import { ACCOUNT_MANAGEMENT, ACTIVE_ACCOUNT, IS_PUBLIC, PASSWORD_SIGN_IN, ROLES } from './decorators';

/**
 * Runs after authentication, before validation: a wrong role, an API key where a password sign-in is needed,
 * or beyond its scope, is 403 `forbidden`, then a suspended account is 403 `account_suspended`, in the
 * precedence API.md fixes. A suspended trader may still act on live trades (routes without ActiveAccountRequired);
 * a suspended operator may not act at all.
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<{ user?: AuthUser; method: string }>();
    const user = request.user;
    if (!user) throw new DomainError('unauthenticated', 'Credentials are required');

    const roles = this.reflector.getAllAndOverride<UserRole[] | undefined>(ROLES, targets);
    if (roles && !roles.includes(user.role)) {
      throw new DomainError('forbidden', `This action is for ${roles.join(' or ')} accounts`);
    }
    if (user.via === 'api_key' && this.reflector.getAllAndOverride<boolean>(PASSWORD_SIGN_IN, targets)) {
      throw new DomainError('forbidden', 'This action needs a token from a password sign-in, not an API key');
    }
    if (user.scope) this.checkScope(user.scope, request.method, targets);
    if (user.suspended && user.role === 'operator') {
      throw new DomainError('account_suspended', 'The operator account is suspended');
    }
    if (user.suspended && this.reflector.getAllAndOverride<boolean>(ACTIVE_ACCOUNT, targets)) {
      throw new DomainError('account_suspended', 'The account is suspended: it may only act on its live trades');
    }
    return true;
  }

  private checkScope(scope: ApiKeyScope, method: string, targets: Parameters<Reflector['getAllAndOverride']>[1]): void {
    if (scope === 'read' && method !== 'GET' && method !== 'HEAD') {
      throw new DomainError('forbidden', 'This API key may only read (GET)');
    }
    if (this.reflector.getAllAndOverride<boolean>(ACCOUNT_MANAGEMENT, targets)) {
      throw new DomainError('forbidden', `An API key with the ${scope} scope may not manage the account`);
    }
  }
}
