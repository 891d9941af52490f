import { Agent as HttpAgent, ClientRequest, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** A provider's answer, read whole: its status, a header by name (as `Headers.get` gives it) and its body as text. */
export interface ProviderResponse {
  status: number;
  ok: boolean;
  header(name: string): string | undefined;
  text: string;
}

export interface ProviderRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** For the whole exchange: connecting, sending, and reading the answer to its end. */
  timeoutMs: number;
}

// Connections kept open between calls, one pool per scheme shared by every provider client: a call to a provider
// is a few round trips on a connection already open, not a new one. One idle for 4 s is closed (as fetch's were),
// before a provider or a middlebox in between drops it unannounced; a call under way is bounded by its own timeout.
const KEEP_IDLE_MS = 4000;
const agents = {
  http: new HttpAgent({ keepAlive: true, timeout: KEEP_IDLE_MS }),
  https: new HttpsAgent({ keepAlive: true, timeout: KEEP_IDLE_MS }),
};

/** Sent unless the caller names its own: an API gateway may refuse a request without one (WeChat Pay's says so). */
const USER_AGENT = `Yuanbridge node/${process.versions.node}`;
/** Headers that make a provider take a second delivery of a request as the first (a replay, not a second payment). */
const IDEMPOTENCY_HEADERS = ['paypal-request-id', 'idempotency-key'];
/** Far past any provider answer (a page of payout items is a few kB): a larger one is cut off, not read into memory. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * One HTTP call to a provider's API over node:http, on kept-alive connections. Rather than `fetch`: the calls are
 * many (about ten a whole trade) and each of fetch's cost four times the CPU of this (its WHATWG request, headers,
 * body stream and abort signal), with nothing of that used here. A redirect is not followed and is no answer: a
 * provider's API never sends one, so it rejects as a failure to reach the provider would. A failure to reach the
 * provider (refused, reset, timed out, redirected) rejects; any other answer resolves, whatever its status.
 */
export async function providerRequest(url: string | URL, options: ProviderRequest): Promise<ProviderResponse> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const deadline = Date.now() + options.timeoutMs;
  try {
    return await exchange(target, options, options.timeoutMs);
  } catch (error) {
    // A kept-alive connection the provider closed while it idled fails at once, before any answer; such a call is sent
    // again once on a new one (what Node's documentation recommends for a reused socket), within the same deadline, if
    // a second delivery is harmless: a read, or a request the provider deduplicates by its idempotency header.
    const failed = error as ExchangeError;
    const left = deadline - Date.now();
    if (failed.reusedSocket && !failed.answerStarted && failed.code === 'ECONNRESET' && left > 0 && safeToResend(options)) {
      return exchange(target, options, left);
    }
    throw error;
  }
}

type ExchangeError = NodeJS.ErrnoException & { reusedSocket?: boolean; answerStarted?: boolean };

function safeToResend(options: ProviderRequest): boolean {
  const method = (options.method ?? 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') return true;
  const named = Object.keys(options.headers ?? {}).map((name) => name.toLowerCase());
  return IDEMPOTENCY_HEADERS.some((header) => named.includes(header));
}

function exchange(url: URL, options: ProviderRequest, timeoutMs: number): Promise<ProviderResponse> {
  const https = url.protocol === 'https:';
  if (!https && url.protocol !== 'http:') return Promise.reject(new Error(`Unsupported protocol ${url.protocol}`));
  const headers: Record<string, string | number> = { ...options.headers };
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'user-agent')) headers['user-agent'] = USER_AGENT;
  if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
  return new Promise<ProviderResponse>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(Object.assign(error, { reusedSocket: request.reusedSocket, answerStarted }));
    };
    let answerStarted = false;
    const answered = (response: IncomingMessage) => {
      answerStarted = true;
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        response.resume();
        fail(new Error(`the provider answered with a redirect (HTTP ${status}), which its API never sends`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) response.destroy(new Error(`the answer is over ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', fail);
      // Closed before its end (the provider's process or a proxy gone mid-answer): no answer.
      response.on('close', () => {
        if (!response.complete) fail(new Error('the connection closed before the answer ended'));
      });
      response.on('end', () => {
        clearTimeout(timer);
        resolve({
          status,
          ok: status >= 200 && status < 300,
          header: (name) => {
            const value = response.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          },
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    };
    const send = https ? httpsRequest : httpRequest;
    const request: ClientRequest = send(
      url,
      { method: options.method ?? 'GET', headers, agent: https ? agents.https : agents.http },
      answered,
    );
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    request.on('error', fail);
    request.end(options.body);
  });
}
