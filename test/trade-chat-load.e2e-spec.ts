import { Client } from 'pg';
import { settling } from './support/settings';
import { eventually } from './support/test-app';
import { newTrade } from './support/trades';
import { useTestApp } from './support/use-test-app';

/**
 * Trade chat under load, through HTTP: one sender's burst never holds the pool's connections while its posts wait
 * for each other (the database giving up for load is test/service-busy.e2e-spec.ts).
 */
describe('Trade chat: a burst of one sender on a small pool (HTTP)', () => {
  const PER_MINUTE = 10;
  const suite = useTestApp({ ...settling, MESSAGES_PER_MINUTE: String(PER_MINUTE), DATABASE_POOL_SIZE: '2' }, { reference: '7.2400' });

  it("waits for the sender's turn outside the pool: others are served while it waits, the excess is refused at once, exactly the limit stored", async () => {
    const { api, db } = suite;
    const t = await newTrade(api);
    const post = (text: string, token = t.traveler.token) => api('POST', `/v1/trades/${t.trade.id}/messages`, { token, body: { text } });
    // Another session holds the sender's turn (the key ChatRepository.serializeSender takes), as a post of the
    // sender in another process would: every post of the sender here has to wait for it.
    const turn = new Client({ connectionString: suite.test.databaseUrl });
    await turn.connect();
    try {
      await turn.query(`SELECT pg_advisory_lock(hashtextextended('trade_messages:' || $1::text, 0))`, [t.traveler.id]);
      const burst = 5 * PER_MINUTE;
      const answered: number[] = [];
      const sent = Array.from({ length: burst }, (_, i) =>
        post(`burst ${i}`).then((r) => {
          answered.push(r.status);
          return r;
        }),
      );
      // More posts than the limit in flight at once could not all be stored: those are answered 429 while the
      // others still wait, without a connection each.
      await eventually(async () => answered.length === burst - PER_MINUTE, 20000);
      expect(answered).toEqual(Array(burst - PER_MINUTE).fill(429));
      // Only one of the pool's two connections waits on the turn: the other party is served meanwhile.
      const waitingOnTurn = async () =>
        (
          await db.query(
            `SELECT count(*)::int AS n FROM pg_locks
              WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          )
        ).rows[0].n as number;
      await eventually(async () => (await waitingOnTurn()) > 0);
      expect((await post('not stuck behind them', t.counterparty.token)).status).toBe(201);
      expect(await waitingOnTurn()).toBe(1);

      await turn.query(`SELECT pg_advisory_unlock(hashtextextended('trade_messages:' || $1::text, 0))`, [t.traveler.id]);
      const statuses = (await Promise.all(sent)).map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(PER_MINUTE);
      expect(statuses.filter((s) => s !== 201)).toEqual(Array(burst - PER_MINUTE).fill(429));
      const stored = await db.query(`SELECT count(*)::int AS n FROM trade_messages WHERE trade_id = $1 AND sender_id = $2`, [
        t.trade.id,
        t.traveler.id,
      ]);
      expect(stored.rows[0].n).toBe(PER_MINUTE);
    } finally {
      await turn.end();
    }
  });
});
