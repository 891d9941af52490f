import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The service's policy (the API, its docs, the problem pages). Console pages replace it with their own stricter
 * one (console-http.ts) when they answer.
 */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    directives: { defaultSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], scriptSrc: ["'self'"] },
  },
};

/**
 * The headers helmet sets with these options, recorded once by running its middleware on a stand-in response:
 * every directive is a constant, so they are the same for every request.
 */
export function securityHeaders(options: HelmetOptions = HELMET_OPTIONS): readonly (readonly [string, string])[] {
  const csp = options.contentSecurityPolicy;
  const directives = typeof csp === 'object' ? Object.values(csp.directives ?? {}) : [];
  if (directives.some((value) => typeof value === 'function' || (Array.isArray(value) && value.some((v) => typeof v === 'function'))))
    throw new Error('A policy directive computed per request (a nonce) cannot be precomputed');
  const headers: [string, string][] = [];
  const response = {
    setHeader: (name: string, value: unknown) => void headers.push([name, String(value)]),
    removeHeader: () => undefined,
    getHeader: () => undefined,
  };
  let failure: unknown;
  let finished = false;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
    finished = true;
  });
  if (failure) throw failure;
  if (!finished) throw new Error('helmet did not finish synchronously: its headers cannot be precomputed');
  return headers;
}

/**
 * Sets the precomputed security headers on every response, in one hook: helmet's middleware chain ran a dozen
 * functions and rebuilt the policy's text on every request for headers that never change.
 */
export function sendSecurityHeaders(fastify: FastifyInstance): void {
  const headers = securityHeaders();
  fastify.addHook('onRequest', (_request, reply, done) => {
    const raw = reply.raw;
    for (const [name, value] of headers) raw.setHeader(name, value);
    done();
  });
}
