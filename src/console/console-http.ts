import type { FastifyReply } from 'fastify';
import type { SafeHtml } from './html';

/**
 * Every console page's policy: nothing from another host, no inline script or style, no framing, forms posting
 * only here. It replaces the looser policy the whole service gets from helmet (create-app.ts).
 */
export const CONSOLE_CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Console responses carry an operator's view of people's money: never stored by a browser or a proxy. */
export function consoleHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'same-origin')
    .header('x-frame-options', 'DENY');
}

export function sendPage(reply: FastifyReply, page: SafeHtml, status = 200): void {
  void consoleHeaders(reply).status(status).header('content-type', 'text/html; charset=utf-8').send(page.toString());
}

/** 303 See Other: after a form post, and to the sign-in page; the browser follows with a GET. */
export function redirect(reply: FastifyReply, location: string): void {
  void consoleHeaders(reply).status(303).header('location', location).send();
}

/** Thrown by the console's guard when a request must go elsewhere (the sign-in page); the console's filter sends it. */
export class ConsoleRedirect {
  constructor(readonly location: string) {}
}

/**
 * Where to go after signing in: only a path of this service under /admin (a single leading slash, no `//`, no
 * backslash, no control character), never another site; anything else goes to /admin. Dot segments are resolved
 * first (so /admin/../v1 is judged as /v1) and any other character than printable ASCII is percent-encoded, as a
 * Location header must be.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || next.length > 1000) return '/admin';
  if (next.includes('\\') || [...next].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return '/admin';
  if (!next.startsWith('/') || next.startsWith('//')) return '/admin';
  let url: URL;
  try {
    url = new URL(next, 'http://console.invalid');
  } catch {
    return '/admin';
  }
  if (url.origin !== 'http://console.invalid') return '/admin';
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (!/^\/admin(?:[/?#]|$)/.test(path) || /^\/admin\/sign-(?:in|out)(?:[/?#]|$)/.test(path)) return '/admin';
  if (path.includes('//') || !/^[\x21-\x7e]+$/.test(path) || path.length > 1000) return '/admin';
  return path;
}

/** One field of a form post as text ('' when absent or not text: a form sends each field once). */
export function formField(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}
