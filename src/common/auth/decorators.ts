import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { AuthUser, UserRole } from './auth-user';

export const IS_PUBLIC = 'auth:public';
export const ROLES = 'auth:roles';
export const ACTIVE_ACCOUNT = 'auth:active-account';
export const PASSWORD_SIGN_IN = 'auth:password-sign-in';
export const ACCOUNT_MANAGEMENT = 'auth:account-management';

/** No credentials needed. */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Only these roles may call the route (403 `forbidden` otherwise). */
export const Roles = (...roles: UserRole[]) => SetMetadata(ROLES, roles);

/** Suspended users are refused (403 `account_suspended`): they may only finish what is live. */
export const ActiveAccountRequired = () => SetMetadata(ACTIVE_ACCOUNT, true);

/** A Bearer token from a password sign-in only, never an API key (403 `forbidden`): a leaked key cannot mint or revoke keys. */
export const PasswordSignInRequired = () => SetMetadata(PASSWORD_SIGN_IN, true);

/**
 * Managing an account rather than using it (payment handles, API keys), and every operator decision (other
 * users' accounts, handle reveals, disputes, settlement retries): no scoped API key may (403 `forbidden`),
 * whatever the method; a key without a scope, or a token, may.
 */
export const AccountManagement = () => SetMetadata(ACCOUNT_MANAGEMENT, true);

export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthUser => {
  return context.switchToHttp().getRequest<{ user: AuthUser }>().user;
});
