import type { FastifyRequest } from 'fastify';
import type { AuthUser } from '../common/auth/auth-user';
import type { ConsoleViewer } from './layout';

/** The signed-in operator of a console request, as the session guard resolved it. */
export interface SignedInOperator {
  /** The operator as the services expect a caller: a session is a password sign-in, with no API key scope. */
  operator: AuthUser;
  /** For the layout and every form: the operator's id and the CSRF token. */
  viewer: ConsoleViewer;
  sessionToken: string;
}

export type ConsoleRequest = FastifyRequest & { consoleOperator?: SignedInOperator };
