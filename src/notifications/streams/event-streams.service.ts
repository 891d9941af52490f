import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthUser } from '../../common/auth/auth-user';
import { safeErrorForLog } from '../../common/errors';
import { eventsConfig } from '../../config';
import type { StoredEvent } from '../../events/event-types';
import { EventsRepository } from '../../events/events.repository';
import { CredentialCheck } from '../../users/credential-check';
import { Envelope, EnvelopeBuilder, EnvelopeViewer } from '../envelopes';
import { HeardEvent, HeldStream, StreamHub } from './stream-hub';
import { StreamLimiter } from './stream-limiter';
import type { PublishedEvent } from './stream-sink';

/** Every event addressed to the caller, or one trade's events (its participant's role, or an operator's). */
export type StreamScope = { kind: 'user' } | { kind: 'trade'; tradeId: string; role: EnvelopeViewer['role'] };

/**
 * A stream sends in `stream_seq` order, not `created_at` or `seq`: those are taken when the event's transaction writes
 * it, and a transaction that commits late (however late) would hold an event sorting before one the client already
 * saw. `stream_seq` is taken at the event's commit, one at a time, and numbers become visible in the order taken:
 * once number N is visible, every number below it is. Fan-out jobs publish in no particular order, so a stream
 * treats a published event as a wake-up: it reads and sends, in order, every event of its scope numbered after the
 * last it covered, up to the published one. Everything a client saw before `Last-Event-ID` is numbered at or below
 * it, and everything numbered after it is replayed (within the 24 hours API.md promises), a page at a time, the next
 * page read once the client took the last. A stream opened without `Last-Event-ID` starts after the last number
 * visible once it is subscribed. Delivery is at least once (clients deduplicate by `id`).
 *
 * The read is skipped when it could find nothing new: the process heard every number between the stream's position
 * and the published event's before that event (`HeardNumbers`), so each was offered to the stream first, and it
 * fanned the event out itself a moment ago, so it has its data (`StreamHub.fannedOut`).
 */
const REPLAY_PAGE = 100;
/** How many sent ids a stream remembers, to skip an event published twice (a retried fan-out) or replayed and live. */
const REMEMBERED_IDS = 5000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Opens a server-sent event stream: a place under `STREAMS_PER_USER`, the Redis subscription, then the response
 * itself (hijacked from Fastify: everything refused before this point answers as problem details, through the filter).
 */
@Injectable()
export class EventStreams {
  private readonly logger = new Logger(EventStreams.name);

  constructor(
    private readonly hub: StreamHub,
    private readonly limiter: StreamLimiter,
    private readonly envelopes: EnvelopeBuilder,
    private readonly events: EventsRepository,
    private readonly credentials: CredentialCheck,
    @Inject(eventsConfig.KEY) private readonly config: ConfigType<typeof eventsConfig>,
  ) {}

  async open(caller: AuthUser, request: FastifyRequest, reply: FastifyReply, scope: StreamScope): Promise<void> {
    // HEAD (which Fastify serves with the GET route): the same checks, then headers only; no stream held open.
    if (request.method === 'HEAD') {
      void reply.status(200).header('content-type', 'text/event-stream; charset=utf-8').send();
      return;
    }
    const header = request.headers['last-event-id'];
    const lastEventId = typeof header === 'string' && header.trim() !== '' ? header.trim() : undefined;
    const streamId = randomUUID();
    await this.limiter.acquire(caller.id, streamId);
    const stream = new SseStream(
      {
        hub: this.hub,
        limiter: this.limiter,
        envelopes: this.envelopes,
        logger: this.logger,
        // At each heartbeat: a stream ends once its token expires or its API key is revoked, as a request would be refused.
        stillAccepted: () => this.credentials.stillAccepted(request.headers, caller),
        maxBufferedBytes: this.config.streamMaxBufferedBytes,
      },
      reply.raw,
      caller.id,
      streamId,
      scope,
    );
    let startAfter: string;
    try {
      // Subscribed before the replay is read: an event committed meanwhile is in one or the other (or both).
      await this.hub.hold(stream);
      // The starting number is read before the client sees the stream open: an event a client causes once it has
      // seen it open is numbered after it, so the stream sends it.
      startAfter = await this.startAfter(lastEventId);
    } catch (error) {
      this.hub.release(stream);
      await this.limiter.release(caller.id, streamId).catch(() => undefined);
      throw error;
    }
    reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
    stream.start(
      {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      },
      this.config.streamHeartbeatMs,
      lastEventId,
      {
        startAfter: () => Promise.resolve(startAfter),
        page: (after, through) => this.page(caller.id, scope, after, through),
      },
    );
  }

  /**
   * Where the stream starts: after `Last-Event-ID`'s number, or from the start of the 24 hours when that id is
   * unknown or purged; without it, after the last number visible now.
   */
  private async startAfter(lastEventId: string | undefined): Promise<string> {
    if (lastEventId === undefined) return this.events.latestStreamSeq();
    return (UUID.test(lastEventId) ? await this.events.streamSeqOf(lastEventId) : null) ?? '0';
  }

  /** A page of the stream's events numbered after `after`, up to `through` (null: no bound), in `stream_seq` order. */
  private page(userId: string, scope: StreamScope, after: string, through: string | null): Promise<StoredEvent[]> {
    return scope.kind === 'trade'
      ? this.events.replayForTrade(scope.tradeId, after, through, REPLAY_PAGE)
      : this.events.replayForUser(userId, after, through, REPLAY_PAGE);
  }
}

/** How a stream reads its own events from the log. */
interface StreamReader {
  startAfter(): Promise<string>;
  page(after: string, through: string | null): Promise<StoredEvent[]>;
}

interface StreamDeps {
  hub: StreamHub;
  limiter: StreamLimiter;
  envelopes: EnvelopeBuilder;
  logger: Logger;
  stillAccepted: () => Promise<boolean>;
  maxBufferedBytes: number;
}

/** One open stream: its writes in order (the replay first, then live events), its heartbeat, its clean-up. */
class SseStream implements HeldStream {
  private readonly sent = new Set<string>();
  private reader!: StreamReader;
  /** The last `stream_seq` this stream covered: every event of its scope numbered up to it was sent (or precedes it). */
  private position = 0n;
  private chain: Promise<void> = Promise.resolve();
  /** Sends waiting in `chain`. */
  private pending = 0;
  /** Events offered before the response began: sent after the replay. */
  private early?: [PublishedEvent, HeardEvent | undefined][] = [];
  private closed = false;
  /**
   * A send failed since the position last moved by a read (an event it should have sent may be missing): the next
   * event is sent by reading the log from the position, never without.
   */
  private mustRead = false;
  private checking = false;
  private heartbeat?: NodeJS.Timeout;
  private readonly cleaned: Promise<void>;
  private markCleaned!: () => void;

  constructor(
    private readonly deps: StreamDeps,
    private readonly raw: ServerResponse,
    private readonly userId: string,
    private readonly streamId: string,
    private readonly scope: StreamScope,
  ) {
    this.cleaned = new Promise((resolve) => (this.markCleaned = resolve));
  }

  start(
    headers: Record<string, string | number | string[]>,
    heartbeatMs: number,
    lastEventId: string | undefined,
    reader: StreamReader,
  ): void {
    // Ended between its hold and now (the server shutting down, the subscriber dropping): the client reconnects.
    if (this.closed) return;
    this.raw.on('close', () => this.cleanUp());
    // The client may have gone before the response began: then 'close' has come and gone.
    if (this.raw.destroyed || this.raw.socket?.destroyed) {
      this.cleanUp();
      return;
    }
    this.raw.writeHead(200, headers);
    this.write(': open\n\n');
    if (lastEventId) this.sent.add(lastEventId);
    this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
    this.heartbeat.unref();
    this.reader = reader;
    this.enqueue(async () => {
      this.position = BigInt(await reader.startAfter());
      await this.catchUp(null);
    });
    const early = this.early ?? [];
    this.early = undefined;
    for (const [event, heard] of early) this.offer(event, heard);
  }

  private beat(): void {
    this.write(': keep-alive\n\n');
    this.deps.limiter
      .renew(this.userId, this.streamId)
      .catch((error: unknown) => this.warn(error, 'A stream’s place could not be renewed'));
    if (this.checking) return;
    this.checking = true;
    this.deps
      .stillAccepted()
      .then((accepted) => (accepted ? undefined : this.end()))
      .catch((error: unknown) => this.warn(error, 'A stream’s credentials could not be checked; checked again at the next heartbeat'))
      .finally(() => (this.checking = false));
  }

  offer(event: PublishedEvent, heard?: HeardEvent): void {
    const role = this.roleFor(event);
    if (!role) return;
    if (this.early) {
      this.early.push([event, heard]);
      return;
    }
    this.enqueue(async () => {
      if (this.sent.has(event.id)) return;
      if (event.streamSeq === undefined) {
        const envelope = await this.deps.envelopes.forRecipient(event.id, { userId: this.userId, role });
        if (envelope) this.send(envelope);
        return;
      }
      // Covered already (sent, or read and sent in order with the events before it).
      const number = BigInt(event.streamSeq);
      if (number <= this.position) return;
      // Every event numbered between this stream's position and this one was heard before it, so offered to this
      // stream before it and sent (or not its own): with the event at hand, nothing needs reading.
      if (!this.mustRead && heard?.stored && heard.gaplessFrom !== null && this.position >= heard.gaplessFrom) {
        if (!this.sent.has(event.id)) this.send(await this.deps.envelopes.of(heard.stored, { userId: this.userId, role }));
        this.position = number;
        return;
      }
      await this.catchUp(event.streamSeq);
    });
  }

  /**
   * Sends, in order, the events of the stream's scope numbered after `position` and up to `through` (every one that
   * is visible when null), a page at a time, the next once the client took the last. `through` is the number of a
   * published event, visible, so every number below it is visible too: none is passed over.
   */
  private async catchUp(through: string | null): Promise<void> {
    for (;;) {
      const page = await this.reader.page(this.position.toString(), through);
      for (const event of page) {
        const role = this.roleFor(event);
        if (role && !this.sent.has(event.id)) this.send(await this.deps.envelopes.of(event, { userId: this.userId, role }));
        this.position = BigInt(event.streamSeq);
      }
      if (this.closed) return;
      if (page.length < REPLAY_PAGE) break;
      // A long replay to a slow client is not held in memory.
      if (this.raw.writableNeedDrain) await Promise.race([once(this.raw, 'drain'), this.cleaned]);
    }
    if (through !== null && BigInt(through) > this.position) this.position = BigInt(through);
    // Everything up to the position was read and sent in order: nothing a failed send left behind is missing now.
    this.mustRead = false;
  }

  end(): Promise<void> {
    if (!this.closed) this.raw.end();
    this.cleanUp();
    return this.cleaned;
  }

  private roleFor(event: Pick<PublishedEvent, 'tradeId' | 'recipients'>): EnvelopeViewer['role'] | undefined {
    if (this.scope.kind === 'trade') return event.tradeId === this.scope.tradeId ? this.scope.role : undefined;
    return event.recipients.find((recipient) => recipient.userId === this.userId)?.role;
  }

  private send(envelope: Envelope): void {
    if (this.closed || this.sent.has(envelope.id)) return;
    this.write(`id: ${envelope.id}\nevent: ${envelope.type}\ndata: ${JSON.stringify(envelope)}\n\n`);
    this.sent.add(envelope.id);
    if (this.sent.size > REMEMBERED_IDS) this.sent.delete(this.sent.values().next().value!);
  }

  private enqueue(work: () => Promise<void>): void {
    // Events waiting behind a replay the client is slow to take are bounded too.
    if (++this.pending > REMEMBERED_IDS) {
      this.deps.logger.warn({ streamId: this.streamId }, 'A stream’s client fell too far behind; the stream was cut');
      this.raw.destroy();
      this.cleanUp();
      return;
    }
    this.chain = this.chain
      .then(() => (this.closed ? undefined : work()))
      .catch((error: unknown) => {
        this.mustRead = true;
        this.warn(error, 'An event could not be sent on a stream');
      })
      .finally(() => (this.pending -= 1));
  }

  /**
   * A client that stops reading must not grow this process's memory: past `maxBufferedBytes` waiting to be sent,
   * the connection is cut (the client reconnects with `Last-Event-ID` and is replayed what it missed).
   */
  private write(text: string): void {
    if (this.closed || this.raw.writableEnded) return;
    this.raw.write(text);
    if (this.raw.writableLength > this.deps.maxBufferedBytes) {
      this.deps.logger.warn({ streamId: this.streamId }, 'A stream’s client was not reading; the stream was cut');
      this.raw.destroy();
      this.cleanUp();
    }
  }

  private cleanUp(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.deps.hub.release(this);
    this.deps.limiter
      .release(this.userId, this.streamId)
      .catch((error: unknown) => this.warn(error, 'A stream’s place could not be given back (its lease runs out)'))
      .finally(() => this.markCleaned());
  }

  private warn(error: unknown, message: string): void {
    this.deps.logger.warn({ error: safeErrorForLog(error), streamId: this.streamId }, message);
  }
}
