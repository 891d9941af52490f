import type { FastifyRequest } from 'fastify';

/**
 * Whether a path is the operator console's (/admin, /admin/…, the queue dashboard included), however it is spelled:
 * percent-escapes decoded, repeated slashes and letter case ignored, so /%61dmin or //ADMIN/ count too.
 */
export function isConsolePath(url: string): boolean {
  const raw = url.split(/[?#]/)[0];
  let path = raw;
  try {
    path = decodeURIComponent(raw);
  } catch {
    // A path that does not decode is judged as sent.
  }
  return /^\/+admin(?:\/|$)/i.test(path);
}

/**
 * Whether a state-changing request came from a page of this service, as far as the browser says so: a request
 * whose Sec-Fetch-Site is present and not `same-origin`, or whose Origin is present and not this service's host,
 * did not. Requests that carry neither (curl, API clients, old browsers) pass: the CSRF token still guards them.
 * The host is compared, not the scheme: behind a proxy that terminates TLS the service may see plain http, and a
 * browser sending Origin also sends Sec-Fetch-Site, which tells an http page from an https one.
 */
export function fromThisOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // `null` (a sandboxed frame, a redirect across sites) or anything unreadable
  }
  return host.length > 0 && host.toLowerCase() === String(request.host).toLowerCase();
}

/** GET, HEAD and OPTIONS change nothing; every other method does. */
export function changesState(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}
