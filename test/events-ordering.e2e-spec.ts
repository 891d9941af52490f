import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { QueueRegistry } from '../src/queues/queue-registry';
import { registerUser } from './support/factories';
import { settling } from './support/settings';
import { closeAllStreams, openStream } from './support/sse';
import { completedJobResult, eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';
import { openPaypalTrade, paypalParties } from './support/paypal-trades';

/** Inserts a ping event addressed to the user in the connection's open transaction. */
async function recordPing(conn: Client, userId: string): Promise<string> {
  const id = randomUUID();
  await conn.query(
    `WITH event AS (INSERT INTO events (id, type, data) VALUES ($1, 'ping', '{}') RETURNING id)
     INSERT INTO event_recipients (event_id, user_id, role) SELECT id, $2, 'traveler' FROM event`,
    [id, userId],
  );
  return id;
}

async function seqs(db: Client, ids: string[]): Promise<Map<string, bigint>> {
  const rows = (await db.query(`SELECT id, stream_seq FROM events WHERE id = ANY($1::uuid[])`, [ids])).rows;
  return new Map(rows.map((row) => [row.id as string, BigInt(row.stream_seq)]));
}

describe('event numbering at commit: order under concurrent commits', () => {
  const suite = useTestApp(settling, { reference: '7.2400' });
  const conns: Client[] = [];
  const connect = async () => {
    const conn = new Client({ connectionString: suite.test.databaseUrl });
    await conn.connect();
    conns.push(conn);
    return conn;
  };
  afterEach(async () => {
    closeAllStreams();
    await Promise.all(conns.splice(0).map((conn) => conn.end()));
  });

  it('numbers events in commit order, not their transactions’ start; a stream sends them in that order and a resume skips none', async () => {
    const { api, test, db } = suite;
    const user = await registerUser(api, 'traveler');
    const live = await openStream(test.baseUrl, '/v1/stream', { token: user.token });

    // Four transactions started in order, each recording an event, committed in another order.
    const first = await Promise.all([0, 1, 2, 3].map(() => connect()));
    const started: string[] = [];
    for (const conn of first) {
      await conn.query('BEGIN');
      started.push(await recordPing(conn, user.id));
    }
    const commitOrder = [3, 1, 2, 0];
    for (const i of commitOrder) await first[i].query('COMMIT');
    const inCommitOrder = commitOrder.map((i) => started[i]);
    const numbered = await seqs(db, inCommitOrder);
    const firstSeqs = inCommitOrder.map((id) => numbered.get(id)!);
    expect([...firstSeqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(firstSeqs);

    // Twelve more committed at once, while a reader reads them again and again: whatever it sees is a prefix of
    // their final numbers, no number visible before every lower one is.
    const racing = await Promise.all(Array.from({ length: 12 }, () => connect()));
    const raced: string[] = [];
    for (const conn of racing) {
      await conn.query('BEGIN');
      raced.push(await recordPing(conn, user.id));
    }
    const reader = await connect();
    let committing = true;
    const snapshots: bigint[][] = [];
    const reading = (async () => {
      while (committing) snapshots.push([...(await seqs(reader, raced)).values()].sort((a, b) => (a < b ? -1 : 1)));
    })();
    await Promise.all(racing.map((conn) => conn.query('COMMIT')));
    committing = false;
    await reading;
    const final = [...(await seqs(db, raced)).values()].sort((a, b) => (a < b ? -1 : 1));
    expect(final).toHaveLength(raced.length);
    expect(snapshots.length).toBeGreaterThan(0);
    for (const seen of snapshots) expect(seen).toEqual(final.slice(0, seen.length));

    // Published by their fan-out jobs in reverse order of their numbers: the live stream still sends them in order.
    const all = [...inCommitOrder, ...raced];
    const allSeqs = await seqs(db, all);
    const bySeq = [...all].sort((a, b) => (allSeqs.get(a)! < allSeqs.get(b)! ? -1 : 1));
    const queue = test.app.get(QueueRegistry).get('events');
    for (const id of [...bySeq].reverse()) await queue.add('fan-out-event', { eventId: id }, { jobId: `fan-out-${id}` });
    await live.until((events) => bySeq.every((id) => events.some((e) => e.id === id)), 20000);
    expect(live.events.map((e) => e.id).filter((id) => all.includes(id!))).toEqual(bySeq);
    for (const id of bySeq) await completedJobResult(queue, `fan-out-${id}`);

    // A client that saw the first of them resumes after it: every later one, in order, none skipped.
    const resumed = await openStream(test.baseUrl, '/v1/stream', { token: user.token, lastEventId: bySeq[0] });
    await resumed.until((events) => events.some((e) => e.id === bySeq[bySeq.length - 1]));
    expect(resumed.events.map((e) => e.id)).toEqual(bySeq.slice(1));
  });

  it('takes the numbering lock after the live-trade counters at commit, whatever order the transaction wrote in', async () => {
    const { api, db } = suite;
    const who = await paypalParties(api);
    const tradeId = await openPaypalTrade(api, who);
    const [holder, late, other] = [await connect(), await connect(), await connect()];
    // Another commit's counter update, holding the traveler's counter row.
    await holder.query('BEGIN');
    await holder.query(`SELECT live FROM user_live_trades WHERE user_id = $1 FOR UPDATE`, [who.traveler.id]);
    // Its event written before the trade's move: the counters' deferred trigger is queued after the event's.
    await late.query('BEGIN');
    const latePid = (await late.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid as number;
    const lateEvent = await recordPing(late, who.traveler.id);
    await late.query(`UPDATE trades SET state = 'cancelled' WHERE id = $1`, [tradeId]);
    const lateCommit = late.query('COMMIT');
    await eventually(async () => {
      const row = (await db.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [latePid])).rows[0];
      return row?.wait_event_type === 'Lock';
    });
    // Waiting at commit for the counter row, it holds no numbering lock: another event commits meanwhile.
    const advisory = (await db.query(`SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'`, [latePid])).rows[0]
      .n;
    expect(advisory).toBe(0);
    await other.query(`SET lock_timeout = '30s'`);
    const otherEvent = await recordPing(other, who.traveler.id);
    await holder.query('COMMIT');
    await lateCommit;
    const numbered = await seqs(db, [lateEvent, otherEvent]);
    // Recorded first, committed last: numbered last.
    expect(numbered.get(lateEvent)! > numbered.get(otherEvent)!).toBe(true);
  });
});
