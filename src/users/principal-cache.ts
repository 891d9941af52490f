import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Client } from 'pg';
import type { AuthUser } from '../common/auth/auth-user';
import { authConfig, databaseConfig } from '../config';
import { PRINCIPAL_CHANNEL, PrincipalChangesRepository } from './principal-changes.repository';

export type Principal = Omit<AuthUser, 'via'>;

export { PRINCIPAL_CHANNEL } from './principal-changes.repository';

const MAX_ENTRIES = 50_000;
const RECONNECT_MS = 1000;

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
  private readonly logger = new Logger(PrincipalCache.name);
  private readonly entries = new Map<string, { principal: Principal; until: number }>();
  private listener?: Client;
  private listening = false;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  /** Bumped by every invalidation: a read that one overtook is not cached (it may predate the change). */
  private generation = 0;
  private readonly forgetHooks: (() => void)[] = [];

  constructor(
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    @Inject(databaseConfig.KEY) private readonly database: ConfigType<typeof databaseConfig>,
    private readonly changes: PrincipalChangesRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.auth.principalCacheMs > 0) await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.stopListening();
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

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.database.url, connectionTimeoutMillis: this.database.connectTimeoutMs });
    client.on('notification', (message) => {
      if (message.channel === PRINCIPAL_CHANNEL && message.payload) this.forget(message.payload);
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    this.listener = client;
    try {
      await this.changes.listenOn(client);
      // Anything cached before now may have missed a notification while nobody listened.
      this.clear();
      this.listening = true;
    } catch (error) {
      this.logger.warn({ err: error }, 'Principal cache is off until its listening connection is back');
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

  private clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
