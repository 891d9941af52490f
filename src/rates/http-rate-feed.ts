import { readFileSync } from 'node:fs';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { DomainError } from '../common/errors';
import { parseRate } from '../common/money';
import type { RateFeed, RateQuote } from './rate-feed.port';

export interface HttpRateFeedOptions {
  /** Answers `GET` with `{rate: "7.2400", asOf: "<ISO 8601 time>"}`, as `GET /sandbox/rates/usd-cny` does. */
  url: string;
  timeoutMs: number;
  /** Plausible bounds, in 1/10000 CNY per USD: an answer outside them is refused. */
  minRate: bigint;
  maxRate: bigint;
  /** Extra CA certificates (PEM) the feed's certificate may chain to, beside the public ones. */
  caFile?: string;
}

/** An answer's asOf may run ahead of our clock by this much (clock skew), never more. */
export const MAX_FUTURE_SKEW_MS = 60_000;
const MAX_ANSWER_BYTES = 16 * 1024;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const unavailable = (detail: string) => new DomainError('service_unavailable', detail);

/**
 * Checks a feed's answer: a JSON object whose `rate` is a positive decimal string within the bounds and whose
 * `asOf` is an ISO 8601 time with a zone, not in the future. An old `asOf` is kept as it is: the reference it
 * makes is stale by the usual rule (`REFERENCE_RATE_STALE_AFTER_MS`), so an old answer never passes for a fresh one.
 */
export function parseFeedAnswer(text: string, bounds: { minRate: bigint; maxRate: bigint }, now: number): RateQuote {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw unavailable('The rate feed answered something that is not JSON');
  }
  const { rate, asOf } = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  let value: bigint;
  try {
    value = parseRate(rate);
  } catch {
    throw unavailable('The rate feed answered without a valid rate');
  }
  if (value < bounds.minRate || value > bounds.maxRate) throw unavailable('The rate feed answered a rate outside the plausible bounds');
  const at = typeof asOf === 'string' && ISO_TIME.test(asOf) ? new Date(asOf) : undefined;
  if (!at || Number.isNaN(at.getTime())) throw unavailable('The rate feed answered without a valid asOf time');
  if (at.getTime() > now + MAX_FUTURE_SKEW_MS) throw unavailable('The rate feed answered an asOf time in the future');
  return { rate: value, asOf: at };
}

/** The reference rate from an HTTP(S) feed: one bounded GET per refresh, no redirects followed, the answer checked. */
export class HttpRateFeed implements RateFeed {
  readonly source: string;
  private readonly url: URL;
  private readonly ca?: string[];

  constructor(
    private readonly options: HttpRateFeedOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.url = new URL(options.url);
    this.source = `feed:${this.url.host}`;
    if (options.caFile) this.ca = [...rootCertificates, readFileSync(options.caFile, 'utf8')];
  }

  async latest(): Promise<RateQuote> {
    const text = await this.get();
    return parseFeedAnswer(text, this.options, this.now());
  }

  private get(): Promise<string> {
    return new Promise((resolve, reject) => {
      const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(this.url, { method: 'GET', headers: { accept: 'application/json' }, ca: this.ca });
      // One bound over the whole exchange: connect, headers and body.
      const timer = setTimeout(() => request.destroy(unavailable('The rate feed did not answer in time')), this.options.timeoutMs);
      const fail = (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof DomainError ? error : unavailable('The rate feed is not answering'));
      };
      request.on('error', fail);
      request.on('response', (response: IncomingMessage) => {
        if (response.statusCode !== 200) {
          response.resume();
          return fail(unavailable(`The rate feed answered ${response.statusCode}`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) return request.destroy(unavailable('The rate feed answered too much'));
          chunks.push(chunk);
        });
        response.on('error', fail);
        response.on('end', () => {
          clearTimeout(timer);
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
      request.end();
    });
  }
}
