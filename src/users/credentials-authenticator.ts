import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { JwtService } from '@nestjs/jwt';
import { ExtractJwt } from 'passport-jwt';
import type { AuthUser } from '../common/auth/auth-user';
import type { Authentication, Authenticator } from '../common/auth/authenticator';
import { PrincipalCache } from './principal-cache';
import { UsersRepository } from './users.repository';
import { hashApiKey } from './users.service';
import { type TokenClaims, VerifiedTokens } from './verified-tokens';

/** `Authorization: Bearer <token>`, read as passport-jwt reads it (the scheme in any case, the first word after it). */
const bearerToken = ExtractJwt.fromAuthHeaderAsBearerToken();

/**
 * A request's credentials, in the order API.md gives them: a Bearer token, then an `X-Api-Key`.
 *
 * Bearer tokens: HS256 only, expiry enforced; a signature once checked is remembered until the token expires
 * (VerifiedTokens). The subject's role, tier and suspension come from the principal cache, which a change to any
 * of them empties at its commit, so a suspension applies to the next call whether or not the token was seen.
 *
 * API keys: looked up by their SHA-256 (never stored in clear) on every request, so a revoked or expired key is
 * refused at once; a SHA-256 costs about a microsecond, nothing worth keeping.
 */
@Injectable()
export class CredentialsAuthenticator implements Authenticator {
  private readonly tokens: VerifiedTokens;

  constructor(
    jwt: JwtService,
    private readonly users: UsersRepository,
    private readonly principals: PrincipalCache,
  ) {
    // The module's signing key (JWT_SECRET); expiry is enforced.
    this.tokens = new VerifiedTokens((token) => jwt.verify<TokenClaims>(token, { algorithms: ['HS256'] }));
  }

  async authenticate(request: FastifyRequest): Promise<Authentication> {
    let jwtFailure: unknown;
    const token = bearerToken(request as never);
    if (token) {
      let claims: ReturnType<VerifiedTokens['claims']> | undefined;
      try {
        claims = this.tokens.claims(token);
      } catch (error) {
        jwtFailure = error;
      }
      const user = claims === undefined ? false : await this.bearerUser(claims);
      if (user) return { user };
    }
    const user = await this.apiKeyUser(request);
    return user ? { user } : { jwtFailure };
  }

  private async bearerUser(claims: ReturnType<VerifiedTokens['claims']>): Promise<AuthUser | false> {
    if (typeof claims !== 'object' || typeof claims.sub !== 'string') return false;
    const principal = await this.principals.get(claims.sub, (id) => this.users.findPrincipal(id));
    return principal ? { ...principal, via: 'jwt' } : false;
  }

  private async apiKeyUser(request: FastifyRequest): Promise<AuthUser | false> {
    const key = request.headers['x-api-key'];
    if (typeof key !== 'string' || key.length < 10 || key.length > 200) return false;
    const principal = await this.users.findPrincipalByApiKeyHash(hashApiKey(key));
    if (!principal) return false;
    // Last use is kept to the minute, so a busy bot does not write on every request.
    if (principal.stale) void this.users.touchApiKey(principal.keyId).catch(() => undefined);
    const user: AuthUser = { id: principal.id, role: principal.role, tier: principal.tier, suspended: principal.suspended, via: 'api_key' };
    if (principal.scope) user.scope = principal.scope;
    return user;
  }
}
