import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../errors';
import type { AuthUser, UserRole } from './auth-user';
import { ACTIVE_ACCOUNT, IS_PUBLIC, PASSWORD_SIGN_IN, ROLES } from './decorators';

/**
 * Runs after authentication, before validation: a wrong role, or an API key where a password sign-in is
 * needed, is 403 `forbidden`, then a suspended account is 403 `account_suspended`, in the precedence API.md fixes.
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
    if (!user) throw new DomainError('unauthenticated', 'Credentials are required');

    const roles = this.reflector.getAllAndOverride<UserRole[] | undefined>(ROLES, targets);
    if (roles && !roles.includes(user.role)) {
      throw new DomainError('forbidden', `This action is for ${roles.join(' or ')} accounts`);
    }
    if (user.via === 'api_key' && this.reflector.getAllAndOverride<boolean>(PASSWORD_SIGN_IN, targets)) {
      throw new DomainError('forbidden', 'This action needs a token from a password sign-in, not an API key');
    }
    if (user.suspended && this.reflector.getAllAndOverride<boolean>(ACTIVE_ACCOUNT, targets)) {
      throw new DomainError('account_suspended', 'The account is suspended: it may only act on its live trades');
    }
    return true;
  }
}
