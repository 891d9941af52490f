import { request as httpRequest, IncomingMessage } from 'node:http';

/** One server-sent event as received. */
export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  /** `data` parsed as JSON (the envelope). */
  json?: any;
}

export interface SseStream {
  status: number;
  headers: IncomingMessage['headers'];
  /** Events received so far, in order. */
  events: SseEvent[];
  /** Comment lines received so far (without the leading colon). */
  comments: string[];
  /** The body as received, for an answer that is not a stream (problem details). */
  text(): string;
  /** Waits (bounded) until `check` finds what it wants in the events received. */
  until<T>(check: (events: SseEvent[]) => T | undefined | false, timeoutMs?: number): Promise<T>;
  /** Waits (bounded) for an event of this type (and, if given, about this trade). */
  waitFor(type: string, tradeId?: string, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
  /** Resolves when the server ended the response (or the connection closed). */
  ended: Promise<void>;
}

const open = new Set<SseStream>();

/**
 * A small SSE client over node:http: reads the body as it arrives and parses `id:`, `event:`, `data:` and comments.
 * Every stream is closed by `closeAllStreams` (call it in afterEach/afterAll) if a test did not.
 */
export function openStream(
  baseUrl: string,
  path: string,
  options: { token?: string; apiKey?: string; lastEventId?: string } = {},
): Promise<SseStream> {
  const url = new URL(path, baseUrl);
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey) headers['x-api-key'] = options.apiKey;
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers }, (res) => {
      let raw = '';
      let buffer = '';
      let resolveEnded!: () => void;
      const ended = new Promise<void>((r) => (resolveEnded = r));
      const stream: SseStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        comments: [],
        text: () => raw,
        ended,
        close: () => {
          open.delete(stream);
          req.destroy();
          res.destroy();
        },
        until: async (check, timeoutMs = 10000) => {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const found = check(stream.events);
            if (found) return found;
            if (Date.now() > deadline)
              throw new Error(
                `stream ${path}: condition not met within ${timeoutMs} ms; got ${stream.events.map((e) => e.event).join(', ')}`,
              );
            await new Promise((r) => setTimeout(r, 25));
          }
        },
        waitFor: (type, tradeId, timeoutMs) =>
          stream.until((events) => events.find((e) => e.event === type && (!tradeId || e.json?.data?.trade?.id === tradeId)), timeoutMs),
      };
      open.add(stream);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = {};
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) stream.comments.push(line.slice(1).trim());
            else {
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id' || field === 'event') event[field] = value;
              if (field === 'data') event.data = event.data === undefined ? value : `${event.data}\n${value}`;
              isEvent = isEvent || ['id', 'event', 'data'].includes(field);
            }
          }
          if (isEvent) {
            if (event.data !== undefined) event.json = JSON.parse(event.data);
            stream.events.push(event);
          }
        }
      });
      res.on('close', () => {
        open.delete(stream);
        resolveEnded();
      });
      res.on('error', () => resolveEnded());
      resolve(stream);
    });
    req.on('error', reject);
    req.setTimeout(60000, () => req.destroy(new Error('stream request timed out')));
    req.end();
  });
}

export function closeAllStreams(): void {
  for (const stream of [...open]) stream.close();
}
