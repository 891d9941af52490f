import { IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { CheckedTarget, DnsResolver, resolvePublicTarget, TargetRefused } from '../../common/http/public-target';

/** API.md: a 2xx answer within 10 s acknowledges a delivery; connect, headers and body all count. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** What is read of a receiver's answer before the connection is dropped: the status decides, the body is not kept. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** One attempt's outcome: the receiver's status when it answered, and a short reason when it did not acknowledge. */
export interface AttemptOutcome {
  delivered: boolean;
  statusCode: number | null;
  /** Short, and never the URL, the body or the secret. */
  error: string | null;
}

export interface SendOptions {
  allowedHosts: readonly string[];
  timeoutMs?: number;
  /** The DNS resolver (see resolvePublicTarget). */
  resolver?: DnsResolver;
}

/**
 * POSTs one signed delivery: the URL checked again (its host resolved, every address public unless allowed),
 * the connection made to the checked address with the URL's host as Host header and TLS server name, no
 * redirect followed (a 3xx is a failure), the answer read up to MAX_ANSWER_BYTES, all within the timeout.
 */
export async function sendDelivery(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  options: SendOptions,
): Promise<AttemptOutcome> {
  const timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let target: CheckedTarget;
  try {
    target = await resolvePublicTarget(rawUrl, { allowedHosts: options.allowedHosts, timeoutMs, resolver: options.resolver });
  } catch (error) {
    return { delivered: false, statusCode: null, error: error instanceof TargetRefused ? error.message : 'The URL could not be checked' };
  }
  const statusCode = await post(target, headers, body, Math.max(1, deadline - Date.now()), timeoutMs).catch((error: Error) => error);
  if (statusCode instanceof Error) return { delivered: false, statusCode: null, error: statusCode.message };
  if (statusCode >= 200 && statusCode < 300) return { delivered: true, statusCode, error: null };
  if (statusCode >= 300 && statusCode < 400) return { delivered: false, statusCode, error: `Redirect (${statusCode}) not followed` };
  return { delivered: false, statusCode, error: `The receiver answered ${statusCode}` };
}

/** `remainingMs` bounds the exchange; the error names the whole bound (`boundMs`), what the receiver was given. */
function post(target: CheckedTarget, headers: Record<string, string>, body: string, remainingMs: number, boundMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const { url } = target;
    const https = url.protocol === 'https:';
    const payload = Buffer.from(body, 'utf8');
    const request = (https ? httpsRequest : httpRequest)({
      host: target.address,
      family: target.family,
      port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      // A fresh connection to the checked address each time: never one pooled for another address.
      agent: false,
      headers: { ...headers, host: url.host, 'content-length': String(payload.length), 'user-agent': 'Yuanbridge-Webhooks/1' },
      // TLS checks the certificate against the URL's host, not the address connected to.
      ...(https ? { servername: isIP(target.hostname) ? undefined : target.hostname } : {}),
    });
    let settled = false;
    const finish = (outcome: number | Error) => {
      if (settled) return;
      settled = true;
      if (typeof outcome === 'number') resolve(outcome);
      else reject(outcome);
    };
    // One bound over the whole exchange; the answer's body, once its status is in, is only drained within it.
    const timer = setTimeout(() => {
      finish(new Error(`No answer within ${boundMs >= 1000 ? `${Math.round(boundMs / 1000)} s` : `${boundMs} ms`}`));
      request.destroy();
    }, remainingMs);
    request.on('close', () => clearTimeout(timer));
    request.on('error', (error: NodeJS.ErrnoException) => finish(new Error(connectionError(error))));
    request.on('response', (response: IncomingMessage) => {
      finish(response.statusCode ?? 0);
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) request.destroy();
      });
      response.on('end', () => clearTimeout(timer));
      response.on('error', () => undefined);
    });
    request.end(payload);
  });
}

/** A connection error as a short reason: its code only (ECONNREFUSED, certificate errors), never an address. */
function connectionError(error: NodeJS.ErrnoException): string {
  const code = typeof error.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(error.code) ? error.code : 'unknown error';
  return `Connection failed (${code})`;
}
