import type { FastifyRequest } from 'fastify';
import type { AuthUser } from './auth-user';

/** Who a request's credentials name, or why a Bearer token was refused (`jwtFailure`, jsonwebtoken's error). */
export interface Authentication {
  user?: AuthUser;
  jwtFailure?: unknown;
}

/**
 * Checks a request's credentials: a Bearer token first, then an `X-Api-Key` (the users module provides it). It
 * throws only when the check itself could not be made (the database did not answer).
 */
export interface Authenticator {
  authenticate(request: FastifyRequest): Promise<Authentication>;
}

export const AUTHENTICATOR = Symbol('AUTHENTICATOR');
