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

/**
 * One HTTP call to a provider's API over node:http, on kept-alive connections. Rather than `fetch`: the calls are
 * many (about ten a whole trade) and each of fetch's cost four times the CPU of this (its WHATWG request, headers,
 * body stream and abort signal), with nothing of that used here. Redirects are not followed (a provider's API does
 * not redirect; an answer of 3xx is an answer, not ok). A failure to reach the provider (refused, reset, timed out)
 * rejects; any answer resolves, whatever its status.
 */
export async function providerRequest(url: string | URL, options: ProviderRequest): Promise<ProviderResponse> {
  const target = typeof url === 'string' ? new URL(url) : url;
  try {
    return await exchange(target, options);
  } catch (error) {
    // A kept-alive connection the provider closed while it idled fails at once; the call was never read, so it is
    // sent again once on a new one (what Node's documentation recommends for a reused socket).
    if ((error as ReusedSocketError).reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET')
      return exchange(target, options);
    throw error;
  }
}

type ReusedSocketError = Error & { reusedSocket?: boolean };

function exchange(url: URL, options: ProviderRequest): Promise<ProviderResponse> {
  const https = url.protocol === 'https:';
  if (!https && url.protocol !== 'http:') return Promise.reject(new Error(`Unsupported protocol ${url.protocol}`));
  const headers: Record<string, string | number> = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
  return new Promise<ProviderResponse>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(Object.assign(error, { reusedSocket: request.reusedSocket }));
    };
    const answered = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', fail);
      // Closed before its end (the provider's process or a proxy gone mid-answer): no answer.
      response.on('close', () => {
        if (!response.complete) fail(new Error('the connection closed before the answer ended'));
      });
      response.on('end', () => {
        clearTimeout(timer);
        const status = response.statusCode ?? 0;
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
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    request.on('error', fail);
    request.end(options.body);
  });
}
