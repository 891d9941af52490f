export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  apiKey?: string;
  body?: unknown;
  /** Sent as is, for malformed bodies. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** For a stream: a 2xx answer is read up to its headers, then the connection is dropped (its body never ends). */
  headersOnly?: boolean;
}

export function client(baseUrl: string) {
  return async function request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.apiKey) headers['x-api-key'] = options.apiKey;
    let payload: string | undefined;
    if (options.rawBody !== undefined) payload = options.rawBody;
    else if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const abort = new AbortController();
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body: payload, signal: abort.signal });
    if (options.headersOnly && response.ok) {
      abort.abort();
      return { status: response.status, headers: response.headers, body: undefined as T, text: '' };
    }
    const text = await response.text();
    let body: any = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body, text };
  };
}

export type Api = ReturnType<typeof client>;
