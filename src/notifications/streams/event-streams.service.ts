import { randomUUID } from 'node:crypto';
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
import { HeldStream, StreamHub } from './stream-hub';
import { StreamLimiter } from './stream-limiter';
import type { PublishedEvent } from './stream-sink';

/** Every event addressed to the caller, or one trade's events (its participant's role, or an operator's). */
export type StreamScope = { kind: 'user' } | { kind: 'trade'; tradeId: string; role: EnvelopeViewer['role'] };

/**
 * How far before the last event a client saw its replay starts. An event's `created_at` (and `seq`) is taken when its
 * transaction writes it, not when it commits: a transaction that began before the last event's, and committed after
 * it was sent, holds an event the client never saw that sorts before it. Replaying from a minute earlier (no
 * transaction of the service stays open that long: none is held across an outside call) sends such events, and
 * sends again some the client had: delivery is at least once, and clients deduplicate by `id` (API.md).
 */
const REPLAY_MARGIN_MS = 60_000;
/** The most events one reconnection replays (the newest ones). */
const REPLAY_LIMIT = 1000;
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
      },
      reply.raw,
      caller.id,
      streamId,
      scope,
    );
    try {
      // Subscribed before the replay is read: an event committed meanwhile is in one or the other (or both).
      await this.hub.hold(stream);
    } catch (error) {
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
      () => this.replay(caller.id, scope, lastEventId),
    );
  }

  /** What a client reconnecting with `Last-Event-ID` missed, up to 24 hours back (all of it when the id is unknown). */
  private async replay(userId: string, scope: StreamScope, lastEventId: string | undefined): Promise<StoredEvent[]> {
    if (lastEventId === undefined) return [];
    const last = UUID.test(lastEventId) ? await this.events.createdAtOf(lastEventId) : null;
    const since = last ? new Date(last.getTime() - REPLAY_MARGIN_MS) : null;
    return scope.kind === 'trade'
      ? this.events.replayForTrade(scope.tradeId, since, REPLAY_LIMIT)
      : this.events.replayForUser(userId, since, REPLAY_LIMIT);
  }
}

interface StreamDeps {
  hub: StreamHub;
  limiter: StreamLimiter;
  envelopes: EnvelopeBuilder;
  logger: Logger;
  stillAccepted: () => Promise<boolean>;
}

/** One open stream: its writes in order (the replay first, then live events), its heartbeat, its clean-up. */
class SseStream implements HeldStream {
  private readonly sent = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  /** Events offered before the response began: sent after the replay. */
  private early?: PublishedEvent[] = [];
  private closed = false;
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
    replay: () => Promise<StoredEvent[]>,
  ): void {
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
    this.enqueue(async () => {
      for (const event of await replay()) {
        const role = this.roleFor(event);
        if (role && !this.sent.has(event.id)) this.send(await this.deps.envelopes.of(event, { userId: this.userId, role }));
      }
    });
    const early = this.early ?? [];
    this.early = undefined;
    for (const event of early) this.offer(event);
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

  offer(event: PublishedEvent): void {
    const role = this.roleFor(event);
    if (!role) return;
    if (this.early) {
      this.early.push(event);
      return;
    }
    this.enqueue(async () => {
      if (this.sent.has(event.id)) return;
      const envelope = await this.deps.envelopes.forRecipient(event.id, { userId: this.userId, role });
      if (envelope) this.send(envelope);
    });
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
    this.chain = this.chain
      .then(() => (this.closed ? undefined : work()))
      .catch((error: unknown) => this.warn(error, 'An event could not be sent on a stream'));
  }

  private write(text: string): void {
    if (!this.closed && !this.raw.writableEnded) this.raw.write(text);
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
