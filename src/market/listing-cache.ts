import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Client } from 'pg';
import { databaseConfig, marketConfig } from '../config';
import { PrincipalCache } from '../users/principal-cache';
import { ListingChangesRepository } from './listing-changes.repository';

const MAX_PAGES = 1000;
const RECONNECT_MS = 1000;

/**
 * The first pages of the public listings (no cursor, not the caller's own), kept per process for
 * `LISTING_CACHE_MS` by their filters and reference rate, so that the hot read skips the database, the row
 * parsing and the presenting. Staleness is bounded: a page is trusted only while this process listens, and is
 * dropped at the commit of any write to offers or requests (`listings_changed`) or of any change to a user's
 * suspension (`principal_changed`), a millisecond or so after it; this process's own writes drop it before they
 * answer. A page of requests goes when the first of them expires. What no notification covers lasts at most
 * `LISTING_CACHE_MS`: a maker's reputation or name. Pages walked by cursor are never cached.
 */
@Injectable()
export class ListingCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ListingCache.name);
  private readonly pages = new Map<string, { page: unknown; until: number }>();
  private listener?: Client;
  private listening = false;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  /** Bumped by every invalidation: a read that one overtook is not cached (it may predate the change). */
  private generation = 0;

  constructor(
    @Inject(marketConfig.KEY) private readonly market: ConfigType<typeof marketConfig>,
    @Inject(databaseConfig.KEY) private readonly database: ConfigType<typeof databaseConfig>,
    private readonly changes: ListingChangesRepository,
    principals: PrincipalCache,
  ) {
    // A suspension this process makes drops the pages before it answers (the notification follows).
    principals.onForget(() => this.clear());
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.market.listingCacheMs > 0) await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.stopListening();
  }

  /**
   * The cached page of `key`, or the one `read` builds (cached when nothing invalidated it meanwhile), kept no later
   * than `validUntil` of it (epoch ms): a page of requests goes when the first of its requests expires.
   */
  async get<T>(key: string, read: () => Promise<T>, validUntil?: (page: T) => number): Promise<T> {
    if (!this.listening) return read();
    const now = Date.now();
    const hit = this.pages.get(key);
    if (hit && hit.until > now) return hit.page as T;
    const generation = this.generation;
    const page = await read();
    if (this.listening && generation === this.generation) {
      if (this.pages.size >= MAX_PAGES) this.pages.delete(this.pages.keys().next().value!);
      this.pages.set(key, { page, until: Math.min(now + this.market.listingCacheMs, validUntil?.(page) ?? Infinity) });
    }
    return page;
  }

  clear(): void {
    this.generation += 1;
    this.pages.clear();
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.database.url, connectionTimeoutMillis: this.database.connectTimeoutMs });
    client.on('notification', () => this.clear());
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    this.listener = client;
    try {
      await this.changes.listenOn(client);
      // Anything cached before now may have missed a notification while nobody listened.
      this.clear();
      this.listening = true;
    } catch (error) {
      this.logger.warn({ err: error }, 'Listing cache is off until its listening connection is back');
      this.lost(client);
    }
  }

  private lost(client: Client): void {
    if (this.listener !== client) return;
    this.listening = false;
    this.clear();
    this.stopListening();
    if (this.stopped) return;
    this.reconnectTimer = setTimeout(() => void this.listen(), RECONNECT_MS);
    this.reconnectTimer.unref();
  }

  private stopListening(): void {
    const client = this.listener;
    this.listener = undefined;
    this.listening = false;
    client?.removeAllListeners('notification');
    client?.on('error', () => undefined);
    void client?.end().catch(() => undefined);
  }
}
