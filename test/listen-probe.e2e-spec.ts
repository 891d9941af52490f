import { Client } from 'pg';
import { loadDatabaseConfig } from '../src/config';
import { Notifications } from '../src/database/notifications';
import { startTcpProxy, TcpProxy } from './support/tcp-proxy';
import { eventually } from './support/test-app';

const DATABASE_URL = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const CHANNEL = 'yb_listen_probe_test';

/**
 * A listening connection that dies silently (its peer gone without a word) is noticed by the probe and opened
 * again. Against the real PostgreSQL, through a proxy that falls silent: it neither carries bytes nor closes.
 */
describe('the listening connection probe', () => {
  let proxy: TcpProxy;
  let notifications: Notifications;
  let db: Client;

  beforeAll(async () => {
    proxy = await startTcpProxy(DATABASE_URL.hostname, Number(DATABASE_URL.port || 5432));
    const listenUrl = new URL(DATABASE_URL);
    listenUrl.hostname = '127.0.0.1';
    listenUrl.port = String(proxy.port);
    notifications = new Notifications(
      loadDatabaseConfig({
        DATABASE_URL: DATABASE_URL.toString(),
        DATABASE_LISTEN_URL: listenUrl.toString(),
        DATABASE_LISTEN_PROBE_EVERY_MS: '300',
      }),
    );
    db = new Client({ connectionString: DATABASE_URL.toString() });
    await db.connect();
  });

  afterAll(async () => {
    await notifications?.onApplicationShutdown();
    await db?.end();
    await proxy?.close();
  });

  it('finds a connection that fell silent, opens another, and listens again', async () => {
    const heard: string[] = [];
    let lost = 0;
    let listening = 0;
    const subscription = await notifications.subscribe({
      channels: [CHANNEL],
      notified: (_channel, payload) => heard.push(payload),
      listening: () => (listening += 1),
      lost: () => (lost += 1),
    });
    expect(subscription.listening).toBe(true);
    await db.query(`SELECT pg_notify($1, 'before')`, [CHANNEL]);
    await eventually(async () => heard.includes('before'));

    const acceptedBefore = proxy.accepted;
    proxy.freeze();
    // Nothing closed the connection: only the probe can tell it is gone.
    await eventually(async () => lost > 0);
    await eventually(async () => subscription.listening && proxy.accepted > acceptedBefore);
    expect(listening).toBeGreaterThan(0);
    await db.query(`SELECT pg_notify($1, 'after')`, [CHANNEL]);
    await eventually(async () => heard.includes('after'));
    await subscription.unsubscribe();
  });
});
