import type { Duplex } from 'node:stream';
import { PROBLEM_CONTENT_TYPE, problem } from '../common/errors';

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Fastify's `clientErrorHandler`: what the HTTP parser refuses before a request exists (headers or URL over
 * the size limit, bytes that are not HTTP, a request too slow to arrive) is answered as problem details too,
 * written straight to the socket as Fastify's own handler does, then the connection is closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const detail =
    status === 431
      ? 'The request line and headers are larger than allowed'
      : status === 408
        ? 'The request did not arrive in time'
        : 'The request is not valid HTTP';
  const body = JSON.stringify(problem('bad_request', detail, {}, status).body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
