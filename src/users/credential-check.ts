import type { IncomingHttpHeaders } from 'node:http';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { AuthUser } from '../common/auth/auth-user';
import { PrincipalCache } from './principal-cache';
import { UsersRepository } from './users.repository';
import { hashApiKey } from './users.service';

/**
 * Whether the credentials a long-lived request (an event stream) was authenticated with are still accepted, for
 * the same user, as the strategies and the AuthorizationGuard would accept them now: a token not expired whose account
 * still exists, an API key neither revoked nor expired, and never a suspended operator's (who may not act at all; a
 * suspended trader still follows their live trades). A stream whose credentials lapse is closed.
 */
@Injectable()
export class CredentialCheck {
  constructor(
    private readonly jwt: JwtService,
    private readonly users: UsersRepository,
    private readonly principals: PrincipalCache,
  ) {}

  /** Throws when it cannot tell (the database did not answer): the caller keeps the stream until it can. */
  async stillAccepted(headers: IncomingHttpHeaders, user: AuthUser): Promise<boolean> {
    if (user.via === 'jwt') {
      const token = /^Bearer (\S+)$/i.exec(headers.authorization ?? '')?.[1];
      if (!token) return false;
      let subject: unknown;
      try {
        subject = (await this.jwt.verifyAsync<{ sub?: unknown }>(token, { algorithms: ['HS256'] })).sub;
      } catch {
        return false;
      }
      if (subject !== user.id) return false;
      return accepted(await this.principals.get(user.id, (id) => this.users.findPrincipal(id)));
    }
    const key = headers['x-api-key'];
    if (typeof key !== 'string') return false;
    const owner = await this.users.findPrincipalByApiKeyHash(hashApiKey(key));
    return owner?.id === user.id && accepted(owner);
  }
}

/** As the AuthorizationGuard decides: a suspended operator is refused everything. */
function accepted(principal: Pick<AuthUser, 'role' | 'suspended'> | null): boolean {
  return principal !== null && !(principal.suspended && principal.role === 'operator');
}
