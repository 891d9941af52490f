import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { AuthUser } from '../common/auth/auth-user';
import { authConfig } from '../config';
import { Notifications, NotificationSubscription } from '../database/notifications';
import { PRINCIPAL_CHANNEL } from './principal-changes';

export type Principal = Omit<AuthUser, 'via'>;

export { PRINCIPAL_CHANNEL } from './principal-changes';

const MAX_ENTRIES = 50_000;

/**
 * Who a Bearer token's subject is (role, tier, suspended), kept per process for `PRINCIPAL_CACHE_MS` so that
 * an authenticated request does not start with a round trip to the database. It is trusted only while this
 * process is listening on `principal_changed`: a trigger on `users` notifies at the commit of every change to
 * a role, a tier or a suspension, and the entry is dropped when the notification arrives (a millisecond or so
 * after the commit). While the listening connection is down nothing is cached and every request reads.
 * The process that makes a change also drops the entry itself, before it answers. Money never depends on
 * this: creating a trade reads both parties' suspension under their row locks.
 */
@Injectable()
export class PrincipalCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();
  private subscription?: NotificationSubscription;
  /** Bumped by every invalidation: a read that one overtook is not cached (it may predate the change). */
  private generation = 0;
  private readonly forgetHooks: (() => void)[] = [];

  constructor(
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly notifications: Notifications,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.auth.principalCacheMs <= 0) return;
    this.subscription = await this.notifications.subscribe({
      channels: [PRINCIPAL_CHANNEL],
      notified: (_, id) => {
        if (id) this.forget(id);
      },
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

  /** The cached principal, or the one `read` finds (cached when nothing invalidated it meanwhile). */
  async get(id: string, read: (id: string) => Promise<Principal | null>): Promise<Principal | null> {
    if (!this.listening) return read(id);
    const now = Date.now();
    const hit = this.entries.get(id);
    if (hit && hit.until > now) return hit.principal;
    const generation = this.generation;
    const principal = await read(id);
    if (principal && this.listening && generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(id, { principal, until: now + this.auth.principalCacheMs });
    }
    return principal;
  }

  forget(id: string): void {
    this.generation += 1;
    this.entries.delete(id);
    for (const hook of this.forgetHooks) hook();
  }

  /** Runs `hook` whenever a principal is forgotten (here or by a notification): caches that show suspensions follow. */
  onForget(hook: () => void): void {
    this.forgetHooks.push(hook);
  }

  private clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
