import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { marketConfig } from '../config';
import { Notifications, NotificationSubscription } from '../database/notifications';
import { PRINCIPAL_CHANNEL } from '../users/principal-changes';
import { PrincipalCache } from '../users/principal-cache';
import { LISTINGS_CHANNEL } from './listing-changes';

const MAX_PAGES = 1000;

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
  private readonly pages = new Map<string, { page: unknown; until: number }>();
  private subscription?: NotificationSubscription;
  /** Bumped by every invalidation: a read that one overtook is not cached (it may predate the change). */
  private generation = 0;

  constructor(
    @Inject(marketConfig.KEY) private readonly market: ConfigType<typeof marketConfig>,
    private readonly notifications: Notifications,
    principals: PrincipalCache,
  ) {
    // A suspension this process makes drops the pages before it answers (the notification follows).
    principals.onForget(() => this.clear());
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.market.listingCacheMs <= 0) return;
    this.subscription = await this.notifications.subscribe({
      channels: [LISTINGS_CHANNEL, PRINCIPAL_CHANNEL],
      notified: () => this.clear(),
      // Anything cached before now may have missed a notification while nobody listened.
      listening: () => this.clear(),
      lost: () => this.clear(),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscription?.unsubscribe();
  }

  private get listening(): boolean {
    return this.subscription?.listening ?? false;
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
}
