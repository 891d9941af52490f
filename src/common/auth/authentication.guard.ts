import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { DomainError } from '../errors';
import { IS_PUBLIC } from './decorators';

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

  override handleRequest<TUser>(error: unknown, user: TUser | false): TUser {
    // A strategy's error is an outage (the database did not answer), not bad credentials: keep it a 5xx.
    if (error) throw error;
    if (!user) throw new DomainError('unauthenticated', 'A valid Bearer token or API key is required');
    return user;
  }
}
