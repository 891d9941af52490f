import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy as CustomStrategy } from 'passport-custom';
import { ExtractJwt, Strategy as JwtStrategyBase } from 'passport-jwt';
import type { AuthUser } from '../common/auth/auth-user';
import { authConfig, jwtSigningKey } from '../config';
import { PrincipalCache } from './principal-cache';
import { UsersRepository } from './users.repository';
import { hashApiKey } from './users.service';

/**
 * Bearer tokens. The subject's role, tier and suspension come from the principal cache, which a change to
 * any of them empties at its commit, so a suspension applies to the next call.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(JwtStrategyBase, 'jwt') {
  constructor(
    @Inject(authConfig.KEY) config: ConfigType<typeof authConfig>,
    private readonly users: UsersRepository,
    private readonly principals: PrincipalCache,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // passport-jwt types the key as string | Buffer; jsonwebtoken takes a KeyObject as is.
      secretOrKey: jwtSigningKey(config.jwtSecret) as unknown as string,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  async validate(payload: { sub?: unknown }): Promise<AuthUser | false> {
    if (typeof payload.sub !== 'string') return false;
    const principal = await this.principals.get(payload.sub, (id) => this.users.findPrincipal(id));
    return principal ? { ...principal, via: 'jwt' } : false;
  }
}

/** `X-Api-Key` for programmatic clients: looked up by its SHA-256, never stored in clear; a revoked or expired key is refused (401). */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(CustomStrategy, 'api-key') {
  constructor(private readonly users: UsersRepository) {
    super();
  }

  async validate(request: FastifyRequest): Promise<AuthUser | false> {
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
