import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Socket } from 'node:net';
import { Client } from 'pg';
import { databaseConfig } from '../config';

/** The `application_name` of every process's listening connection (unless `DATABASE_LISTEN_URL` sets its own). */
export const LISTEN_APPLICATION_NAME = 'yuanbridge-listen';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/** What listens for PostgreSQL notifications through the process's one listening connection. */
export interface NotificationSubscriber {
  readonly channels: readonly string[];
  /** A notification on one of `channels` (`payload` is '' when it carried none). */
  notified(channel: string, payload: string): void;
  /** LISTEN is in place on every channel: from now on nothing is missed, but anything before may have been. */
  listening?(): void;
  /** The connection is gone (or closing): notifications may be missed until `listening` is called again. */
  lost?(): void;
}

export interface NotificationSubscription {
  /** True from `listening` to `lost`: only then may a subscriber trust that no notification passed it by. */
  readonly listening: boolean;
  unsubscribe(): Promise<void>;
}

interface Entry {
  subscriber: NotificationSubscriber;
  listening: boolean;
}

/**
 * One dedicated connection per process that LISTENs on every channel a subscriber asked for (the principal and
 * listing caches' invalidations, the outbox relay's wake-ups), from `DATABASE_LISTEN_URL`: a LISTEN needs a
 * session of its own, which neither the pool nor a transaction-mode PgBouncer keeps. Opened on the first
 * subscription; when lost, every subscriber is told, and it is opened again after a backoff (250 ms doubling up to
 * 10 s), LISTENs again on every channel, and tells every subscriber it is listening again. Closed at shutdown, after
 * the relay stopped (`beforeApplicationShutdown`).
 *
 * A listening connection sends nothing of its own, so one that died silently (no FIN, no RST: a host or a NAT entry
 * gone) would never be noticed: it is probed every `DATABASE_LISTEN_PROBE_EVERY_MS` with a `SELECT 1`, and a probe
 * still unanswered at the next one counts as the connection lost. TCP keepalive is on as well.
 */
@Injectable()
export class Notifications implements OnApplicationShutdown {
  private readonly logger = new Logger(Notifications.name);
  private readonly entries = new Set<Entry>();
  private client?: Client;
  private connected = false;
  private connecting?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  private retryMs = FIRST_RETRY_MS;
  /** Set while the connection is down after having been up or tried: the warning is logged once per outage. */
  private down = false;
  private stopped = false;

  constructor(@Inject(databaseConfig.KEY) private readonly database: ConfigType<typeof databaseConfig>) {}

  /**
   * Adds `subscriber` and, when the connection is up (or was just opened for it), LISTENs on its channels before
   * resolving; when the connection is down it resolves at once, not listening, and the subscriber's `listening` is
   * called once the connection is back.
   */
  async subscribe(subscriber: NotificationSubscriber): Promise<NotificationSubscription> {
    const entry: Entry = { subscriber, listening: false };
    const subscription = {
      get listening() {
        return entry.listening;
      },
      unsubscribe: () => this.unsubscribe(entry),
    };
    if (this.stopped) return subscription;
    this.entries.add(entry);
    if (!this.client && !this.retryTimer) await this.connect();
    else if (this.connecting) await this.connecting;
    const client = this.client;
    if (client && this.connected && !entry.listening && this.entries.has(entry)) {
      // A LISTEN that fails here lost the connection: its error event starts the reconnect, which LISTENs for this too.
      await this.listenFor(client, [entry]).catch(() => undefined);
    }
    return subscription;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.drop();
    this.entries.clear();
    await client?.end().catch(() => undefined);
  }

  private async unsubscribe(entry: Entry): Promise<void> {
    if (!this.entries.delete(entry)) return;
    entry.listening = false;
    const stillWanted = new Set([...this.entries].flatMap((other) => other.subscriber.channels));
    const unwanted = entry.subscriber.channels.filter((channel) => !stillWanted.has(channel));
    const client = this.client;
    if (client && this.connected && unwanted.length > 0) {
      await client.query(unwanted.map((channel) => `UNLISTEN ${client.escapeIdentifier(channel)}`).join('; ')).catch(() => undefined);
    }
  }

  private connect(): Promise<void> {
    this.connecting = this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new Client({
      connectionString: this.database.listenUrl,
      connectionTimeoutMillis: this.database.connectTimeoutMs,
      application_name: LISTEN_APPLICATION_NAME,
      keepAlive: true,
    });
    client.on('notification', ({ channel, payload }) => {
      for (const entry of [...this.entries]) {
        if (entry.subscriber.channels.includes(channel)) entry.subscriber.notified(channel, payload ?? '');
      }
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    this.client = client;
    try {
      await client.connect();
      if (this.client !== client) return;
      this.connected = true;
      this.probe(client);
      await this.listenFor(client, [...this.entries]);
      this.retryMs = FIRST_RETRY_MS;
      if (this.down) this.logger.log('Listening for notifications again');
      this.down = false;
    } catch (error) {
      this.lost(client, error as Error);
    }
  }

  /** LISTENs on the channels of `entries` in one round trip, then tells each it is listening. */
  private async listenFor(client: Client, entries: Entry[]): Promise<void> {
    const channels = [...new Set(entries.flatMap((entry) => entry.subscriber.channels))];
    if (channels.length > 0) await client.query(channels.map((channel) => `LISTEN ${client.escapeIdentifier(channel)}`).join('; '));
    if (this.client !== client || !this.connected) return;
    for (const entry of entries) {
      if (!this.entries.has(entry) || entry.listening) continue;
      entry.listening = true;
      entry.subscriber.listening?.();
    }
  }

  /** Asks `client` a `SELECT 1` every probe period while it is the connection; one unanswered at the next ask loses it. */
  private probe(client: Client): void {
    clearInterval(this.probeTimer);
    let answered = true;
    this.probeTimer = setInterval(() => {
      if (this.client !== client) return;
      if (!answered) {
        // Its socket destroyed: no late answer, no LISTEN kept alive on a connection this process gave up.
        (client as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
        this.lost(client, new Error(`no answer to a probe within ${this.database.listenProbeEveryMs} ms`));
        return;
      }
      answered = false;
      // A probe that fails loses the connection through its error event.
      client.query('SELECT 1').then(
        () => (answered = true),
        () => undefined,
      );
    }, this.database.listenProbeEveryMs);
    this.probeTimer.unref();
  }

  private lost(client: Client, error?: Error): void {
    if (this.client !== client) return;
    this.drop();
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    if (!this.down) {
      // The caches read everything and the relay only polls until the connection is back.
      this.logger.warn({ err: error }, 'Listening connection lost; retrying');
      this.down = true;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) void this.connect();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
  }

  /** Forgets the connection and tells every subscriber that was listening that it no longer is. */
  private drop(): void {
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    client?.removeAllListeners('notification');
    client?.removeAllListeners('error');
    client?.on('error', () => undefined);
    for (const entry of this.entries) {
      if (!entry.listening) continue;
      entry.listening = false;
      entry.subscriber.lost?.();
    }
  }
}
