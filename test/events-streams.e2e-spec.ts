import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { eventsConfig, redisConfig } from '../src/config';
import { EventsRepository } from '../src/events/events.repository';
import { EnvelopeBuilder } from '../src/notifications/envelopes';
import { FanOutMarks } from '../src/notifications/fan-out-marks';
import { StreamHub } from '../src/notifications/streams/stream-hub';
import { QueueRegistry } from '../src/queues/queue-registry';
import { createOperator, registerUser } from './support/factories';
import { Api, client } from './support/http';
import { setReference } from './support/market';
import { settling } from './support/settings';
import { closeAllStreams, openStream, SseEvent } from './support/sse';
import { completedJobResult, eventually, startTestApp, TestApp } from './support/test-app';
import { useTestApp } from './support/use-test-app';
import { approvePaypal, openPaypalTrade, paypalParties, reportHeldPayout } from './support/paypal-trades';
import { startWorkerProcess, WorkerProcess } from './support/worker-process';

/**
 * `count` ping events addressed to the user, recorded and fanned out (numbered) as the fan-out job would have done;
 * each with `padBytes` of data.
 */
async function pingsFannedOut(db: Client, userId: string, count: number, padBytes = 0): Promise<string[]> {
  const rows = await db.query(
    `WITH event AS (
       INSERT INTO events (id, type, data, stream_seq, fanned_out_at)
       SELECT gen_random_uuid(), 'ping', jsonb_build_object('pad', repeat('x', $3)), nextval('events_stream_seq'), now()
         FROM generate_series(1, $2) RETURNING id, stream_seq
     ), recipient AS (INSERT INTO event_recipients (event_id, user_id, role) SELECT id, $1, 'traveler' FROM event)
     SELECT id FROM event ORDER BY stream_seq`,
    [userId, count, padBytes],
  );
  return rows.rows.map((row) => row.id);
}

/** A ping event addressed to the user, committed as if `agoMs` ago, not fanned out: no job was queued for it. */
async function pingNotFannedOut(db: Client, userId: string, agoMs: number): Promise<string> {
  const id = randomUUID();
  await db.query(
    `WITH event AS (
       INSERT INTO events (id, type, data, created_at) VALUES ($1, 'ping', '{}', now() - $3::int * interval '1 millisecond') RETURNING id
     ) INSERT INTO event_recipients (event_id, user_id, role) SELECT id, $2, 'traveler' FROM event`,
    [id, userId, agoMs],
  );
  return id;
}

const endedWithin = (stream: { ended: Promise<void> }, ms = 100) =>
  Promise.race([stream.ended.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), ms))]);

const WHOLE_TRADE = ['trade.created', 'trade.funded', 'trade.payout_sent', 'trade.releasing', 'trade.completed'];
const typesOf = (events: SseEvent[], tradeId: string) => events.filter((e) => e.json?.data?.trade?.id === tradeId).map((e) => e.event);
const hasAll = (events: SseEvent[], tradeId: string, types: string[]) => types.every((t) => typesOf(events, tradeId).includes(t));

describe('event streams', () => {
  const suite = useTestApp(settling, { reference: '7.2400', operator: true });
  afterEach(() => closeAllStreams());

  it('follows a whole PayPal trade on both parties’ streams and the trade’s, the handle only in the counterparty’s copy while it may see it', async () => {
    const { api, test, operator, db } = suite;
    const who = await paypalParties(api);
    const { traveler, counterparty } = who;
    const travelerStream = await openStream(test.baseUrl, '/v1/stream', { token: traveler.token });
    const counterpartyStream = await openStream(test.baseUrl, '/v1/stream', { token: counterparty.token });
    expect(travelerStream.status).toBe(200);
    expect(travelerStream.headers['content-type']).toMatch(/^text\/event-stream/);

    const tradeId = await openPaypalTrade(api, who);
    const created = await counterpartyStream.waitFor('trade.created', tradeId);
    expect(created.id).toBe(created.json.id);
    expect(created.json).toMatchObject({
      type: 'trade.created',
      createdAt: expect.any(String),
      data: { trade: { id: tradeId, state: 'awaiting_funding' } },
    });
    await travelerStream.waitFor('trade.created', tradeId);
    // The operator's stream of the trade, from an id it never saw: all of the trade's last 24 hours first.
    const operatorStream = await openStream(test.baseUrl, `/v1/trades/${tradeId}/stream`, {
      token: operator.token,
      lastEventId: randomUUID(),
    });
    const travelerTradeStream = await openStream(test.baseUrl, `/v1/trades/${tradeId}/stream`, { token: traveler.token });
    await operatorStream.waitFor('trade.created', tradeId);

    await approvePaypal(api, tradeId, traveler);
    // Sent while the trade is funded: the counterparty's copy shows the traveler's WeChat id, no other copy does.
    const funded = await counterpartyStream.waitFor('trade.funded', tradeId);
    expect(funded.json.data.trade).toMatchObject({ state: 'funded', travelerWechatId: who.travelerWechat });
    expect((await travelerStream.waitFor('trade.funded', tradeId)).json.data.trade.travelerWechatId).toBeUndefined();
    expect((await operatorStream.waitFor('trade.funded', tradeId)).json.data.trade.travelerWechatId).toBeUndefined();
    expect((await travelerTradeStream.waitFor('trade.funded', tradeId)).json.data.trade.travelerWechatId).toBeUndefined();
    // Shown through the same path as GET /v1/trades/:id: the showing is on the timeline.
    const reveals = await db.query(`SELECT detail FROM trade_events WHERE trade_id = $1 AND type = 'handle_revealed'`, [tradeId]);
    expect(reveals.rows.map((r) => r.detail)).toContainEqual(expect.objectContaining({ field: 'travelerWechatId', state: 'funded' }));

    // The RMB sent, and held PROCESSING at WeChat so the trade stays payout_sent until the traveler confirms.
    await reportHeldPayout(api, who, tradeId);
    const payoutSent = await counterpartyStream.waitFor('trade.payout_sent', tradeId);
    expect(payoutSent.json.data.trade).toMatchObject({ state: 'payout_sent', travelerWechatId: who.travelerWechat });
    expect((await travelerStream.waitFor('trade.payout_sent', tradeId)).json.data.trade.travelerWechatId).toBeUndefined();

    expect((await api('POST', `/v1/trades/${tradeId}/confirm-receipt`, { token: traveler.token })).body.state).toBe('releasing');
    for (const stream of [travelerStream, counterpartyStream, operatorStream, travelerTradeStream]) {
      await stream.waitFor('trade.completed', tradeId, 20000);
    }
    await counterpartyStream.until((events) => hasAll(events, tradeId, WHOLE_TRADE));
    await travelerStream.until((events) => hasAll(events, tradeId, WHOLE_TRADE));
    await operatorStream.until((events) => hasAll(events, tradeId, WHOLE_TRADE));
    await travelerTradeStream.until((events) => hasAll(events, tradeId, WHOLE_TRADE.slice(1)));
    expect(counterpartyStream.events.find((e) => e.event === 'trade.releasing')!.json.data.trade.travelerWechatId).toBeUndefined();

    // Nobody else's handle anywhere: the traveler never gets the counterparty's, the operator's stream none at all.
    for (const stream of [travelerStream, travelerTradeStream, operatorStream]) {
      const text = stream.text();
      for (const handle of [who.travelerWechat, who.counterpartyWechat, who.payoutEmail]) expect(text).not.toContain(handle);
    }
    expect(counterpartyStream.text()).not.toContain(who.payoutEmail);
    expect(counterpartyStream.text()).not.toContain(who.counterpartyWechat);
    // Stored without any handle.
    const stored = await db.query(`SELECT type, data::text AS data FROM events WHERE trade_id = $1`, [tradeId]);
    expect(stored.rows.map((r) => r.type)).toEqual(expect.arrayContaining(WHOLE_TRADE));
    for (const row of stored.rows) {
      expect(row.data).not.toContain('travelerWechatId');
      for (const handle of [who.travelerWechat, who.counterpartyWechat, who.payoutEmail]) expect(row.data).not.toContain(handle);
    }
    const recipients = await db.query(
      `SELECT DISTINCT r.user_id, r.role FROM event_recipients r JOIN events e ON e.id = r.event_id WHERE e.trade_id = $1 ORDER BY r.role`,
      [tradeId],
    );
    expect(recipients.rows).toEqual([
      { user_id: counterparty.id, role: 'counterparty' },
      { user_id: traveler.id, role: 'traveler' },
    ]);

    // Reconnecting from trade.created replays what followed; sent now, with the trade completed, without the handle.
    counterpartyStream.close();
    const again = await openStream(test.baseUrl, '/v1/stream', { token: counterparty.token, lastEventId: created.id });
    await again.until((events) => hasAll(events, tradeId, WHOLE_TRADE.slice(1)));
    expect(again.events.find((e) => e.event === 'trade.funded')!.json.data.trade).not.toHaveProperty('travelerWechatId');
    expect(again.text()).not.toContain(who.travelerWechat);
  });

  it('tells both parties of a dispute opened, a statement added and the dispute resolved, never with a statement’s text', async () => {
    const { api, test, operator, db } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.counterparty.token });
    const tradeId = await openPaypalTrade(api, who);
    await approvePaypal(api, tradeId, who.traveler);
    await stream.waitFor('trade.funded', tradeId);
    const opened = await api('POST', `/v1/trades/${tradeId}/disputes`, {
      token: who.traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Words of the traveler, encrypted at rest.' },
    });
    expect(opened.status).toBe(201);
    const disputeId = opened.body.id;
    expect(
      (
        await api('POST', `/v1/disputes/${disputeId}/statements`, {
          token: who.counterparty.token,
          body: { text: 'Words of the counterparty.' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api('POST', `/v1/admin/disputes/${disputeId}/resolve`, {
          token: operator.token,
          body: { outcome: 'refund', note: 'No RMB arrived.' },
        })
      ).status,
    ).toBe(200);

    await stream.until((events) =>
      hasAll(events, tradeId, ['trade.disputed', 'dispute.opened', 'dispute.statement_added', 'dispute.resolved', 'trade.refunding']),
    );
    const byType = (type: string) => stream.events.find((e) => e.event === type && e.json.data.trade.id === tradeId)!.json.data;
    expect(byType('dispute.opened')).toMatchObject({
      trade: { state: 'disputed', disputeId },
      dispute: { id: disputeId, status: 'open', reason: 'rmb_not_received' },
    });
    expect(byType('dispute.resolved')).toMatchObject({ dispute: { id: disputeId, status: 'resolved', outcome: 'refund' } });
    expect(byType('dispute.opened').dispute).not.toHaveProperty('statements');
    const stored = await db.query(`SELECT type, dispute_id, data::text AS data FROM events WHERE trade_id = $1 AND type LIKE 'dispute.%'`, [
      tradeId,
    ]);
    expect(stored.rows.map((r) => r.type).sort()).toEqual(['dispute.opened', 'dispute.resolved', 'dispute.statement_added']);
    for (const row of stored.rows) {
      expect(row.dispute_id).toBe(disputeId);
      expect(row.data).not.toContain('Words of the');
    }
    expect(stream.text()).not.toContain('Words of the');
  });

  it('replays what a client missed while it was away, once per id', async () => {
    const { api, test } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    const first = await openPaypalTrade(api, who);
    const seen = await stream.waitFor('trade.created', first);
    stream.close();
    await stream.ended;
    // Missed: a second trade opened and the first cancelled while no stream was open.
    const second = await openPaypalTrade(api, who);
    expect((await api('POST', `/v1/trades/${first}/cancel`, { token: who.traveler.token })).status).toBe(200);
    const resumed = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token, lastEventId: seen.id });
    await resumed.waitFor('trade.created', second);
    await resumed.waitFor('trade.cancelled', first);
    const ids = resumed.events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(seen.id);
  });

  it('replays an event committed long after it was recorded, and every event missed, past the first thousand', async () => {
    const { api, test, db } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    const first = await openPaypalTrade(api, who);
    const seen = await stream.waitFor('trade.created', first);
    stream.close();
    await stream.ended;
    // Recorded ten minutes before the event the client saw (a long transaction), committed and fanned out only now.
    const late = await pingNotFannedOut(db, who.traveler.id, 600_000);
    const queue = test.app.get(QueueRegistry).get('events');
    await queue.add('fan-out-event', { eventId: late }, { jobId: `fan-out-${late}` });
    await completedJobResult(queue, `fan-out-${late}`);
    const missed = await pingsFannedOut(db, who.traveler.id, 1100);
    const resumed = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token, lastEventId: seen.id });
    await resumed.until((events) => events.some((e) => e.id === missed[missed.length - 1]), 20000);
    const ids = resumed.events.map((e) => e.id);
    expect(ids).toContain(late);
    expect(ids.filter((id) => missed.includes(id!))).toEqual(missed);
    expect(ids).not.toContain(seen.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('fans out again an event whose fan-out was lost, once the sweep finds it, and marks what every fan-out noted', async () => {
    const { api, test, db } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    const tradeId = await openPaypalTrade(api, who);
    const created = await stream.waitFor('trade.created', tradeId);
    // The process that committed the event fanned it out itself (no job), and noted it once every sink took it,
    // committing nothing.
    const queue = test.app.get(QueueRegistry).get('events');
    await eventually(() => test.app.get(FanOutMarks).isNoted(created.id!));
    expect(await queue.getJob(`fan-out-${created.id}`)).toBeUndefined();
    // The note reaches Redis by itself within its linger (with the process's other notes), sweep or not.
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const key = `${test.app.get<{ keyPrefix: string }>(redisConfig.KEY).keyPrefix}events:fanned-out`;
      await eventually(async () => (await redis.zscore(key, created.id!)) !== null);
    } finally {
      redis.disconnect();
    }
    const markOf = async (id: string | undefined) =>
      (await db.query(`SELECT fanned_out_at FROM events WHERE id = $1`, [id])).rows[0].fanned_out_at;
    expect(await markOf(created.id)).toBeNull();
    const sweep = async (run: string) => {
      const job = await queue.add('sweep-event-fan-out', {}, { jobId: `sweep-event-fan-out-test-${run}-${created.id}` });
      return (await completedJobResult(queue, job.id!)) as { requeued: number };
    };
    // The sweep writes the marks the jobs noted, and queues nothing again for them.
    expect(await sweep('marks')).toEqual({ requeued: 0 });
    expect(await markOf(created.id)).not.toBeNull();

    const lost = await pingNotFannedOut(db, who.traveler.id, 10 * 60_000);
    expect(await sweep('lost')).toEqual({ requeued: 1 });
    await stream.until((events) => events.find((e) => e.id === lost));
    // Later runs find its new job under way, or noted and then marked: queued again no more.
    let run = 0;
    await eventually(async () => {
      expect(await sweep(`again-${(run += 1)}`)).toEqual({ requeued: 0 });
      return (await markOf(lost)) !== null;
    });
    const row = (await db.query(`SELECT stream_seq FROM events WHERE id = $1`, [lost])).rows[0];
    expect(row.stream_seq).not.toBeNull();
    // Sent once on the stream, though the sweep ran again.
    expect(stream.events.filter((e) => e.id === lost)).toHaveLength(1);
  });

  it('ends every open stream when the Redis subscriber drops; a reconnection replays what was committed meanwhile', async () => {
    const { api, test } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    const first = await openPaypalTrade(api, who);
    const seen = await stream.waitFor('trade.created', first);
    const name = `${test.app.get<{ keyPrefix: string }>(redisConfig.KEY).keyPrefix}streams-subscriber`;
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const line = ((await redis.call('CLIENT', 'LIST')) as string).split('\n').find((l) => l.includes(` name=${name} `));
      expect(line).toBeDefined();
      await redis.call('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]);
    } finally {
      redis.disconnect();
    }
    await eventually(() => endedWithin(stream));
    const second = await openPaypalTrade(api, who);
    // Refused (503, Retry-After) until the subscription is back, then replayed from the last event seen.
    const resumed = await eventually(async () => {
      const again = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token, lastEventId: seen.id });
      if (again.status === 200) return again;
      await again.ended;
      expect(again.status).toBe(503);
      expect(JSON.parse(again.text())).toMatchObject({ code: 'service_unavailable' });
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
      return undefined;
    });
    await resumed.waitFor('trade.created', second);
  });

  it('answers 404 on a trade’s stream to anyone but its parties and operators, and 401 without credentials', async () => {
    const { api, test } = suite;
    const who = await paypalParties(api);
    const tradeId = await openPaypalTrade(api, who);
    const outsider = await registerUser(api, 'traveler');
    for (const path of [`/v1/trades/${tradeId}/stream`, `/v1/trades/${randomUUID()}/stream`]) {
      const refused = await openStream(test.baseUrl, path, { token: outsider.token });
      await refused.ended;
      expect(refused.status).toBe(404);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(refused.text())).toMatchObject({ code: 'not_found' });
    }
    const anonymous = await openStream(test.baseUrl, '/v1/stream');
    await anonymous.ended;
    expect(anonymous.status).toBe(401);
    const bad = await openStream(test.baseUrl, '/v1/trades/not-a-uuid/stream', { token: outsider.token });
    await bad.ended;
    expect(bad.status).toBe(400);
  });

  it('holds at most STREAMS_PER_USER (5) streams per user: the 6th is 429 rate_limited, and a closed one frees its place', async () => {
    const { api, test } = suite;
    const user = await registerUser(api, 'traveler');
    const streams = [];
    for (let i = 0; i < 5; i += 1) {
      const stream = await openStream(test.baseUrl, '/v1/stream', { token: user.token });
      expect(stream.status).toBe(200);
      streams.push(stream);
    }
    const sixth = await openStream(test.baseUrl, '/v1/stream', { token: user.token });
    await sixth.ended;
    expect(sixth.status).toBe(429);
    expect(JSON.parse(sixth.text())).toMatchObject({ code: 'rate_limited' });
    expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
    // Another user is not limited by this one's streams.
    const other = await registerUser(api, 'traveler');
    expect((await openStream(test.baseUrl, '/v1/stream', { token: other.token })).status).toBe(200);

    streams[0].close();
    await eventually(async () => {
      const stream = await openStream(test.baseUrl, '/v1/stream', { token: user.token });
      if (stream.status === 200) return true;
      await stream.ended;
      return false;
    });
  });

  it('sends a comment at once and keeps the default heartbeat of 15 s', async () => {
    const { api, test } = suite;
    const user = await registerUser(api, 'counterparty');
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: user.token });
    await stream.until(() => stream.comments.includes('open'));
    expect(test.app.get<{ streamHeartbeatMs: number }>(eventsConfig.KEY).streamHeartbeatMs).toBe(15000);
    expect(stream.comments).toEqual(['open']);
  });

  it('purges events older than the retention, as an idempotent job', async () => {
    const { api, db, test } = suite;
    const who = await paypalParties(api);
    const tradeId = await openPaypalTrade(api, who);
    await eventually(async () => (await db.query(`SELECT 1 FROM events WHERE trade_id = $1`, [tradeId])).rows.length > 0);
    await db.query(`UPDATE events SET created_at = now() - interval '26 hours' WHERE trade_id = $1`, [tradeId]);
    const queue = test.app.get(QueueRegistry).get('housekeeping');
    for (const run of [1, 2]) {
      const job = await queue.add('purge-events', {}, { jobId: `purge-events-test-${run}` });
      await eventually(async () => (await queue.getJob(job.id!).then((found) => found?.getState())) === 'completed');
    }
    expect((await db.query(`SELECT 1 FROM events WHERE trade_id = $1`, [tradeId])).rows).toEqual([]);
    expect(
      (await db.query(`SELECT 1 FROM event_recipients r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = r.event_id)`)).rows,
    ).toEqual([]);
  });
});

describe('event streams: a heartbeat shortened for the test', () => {
  const suite = useTestApp({ STREAM_HEARTBEAT_MS: '100' });
  afterAll(() => closeAllStreams());

  it('sends a comment line every heartbeat', async () => {
    const user = await registerUser(suite.api, 'traveler');
    const stream = await openStream(suite.test.baseUrl, '/v1/stream', { token: user.token });
    await stream.until(() => stream.comments.filter((c) => c === 'keep-alive').length >= 3);
  });

  it('ends a stream once its API key is revoked, as a request with it would be refused', async () => {
    const { api, test } = suite;
    const user = await registerUser(api, 'traveler');
    const key = await api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'bot' } });
    expect(key.status).toBe(201);
    const byKey = await openStream(test.baseUrl, '/v1/stream', { apiKey: key.body.key });
    const byToken = await openStream(test.baseUrl, '/v1/stream', { token: user.token });
    await byKey.until(() => byKey.comments.includes('keep-alive'));
    expect((await api('DELETE', `/v1/me/api-keys/${key.body.id}`, { token: user.token })).status).toBe(200);
    await eventually(async () => Promise.race([byKey.ended.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 100))]));
    // The same user's stream opened with a token goes on.
    const beats = byToken.comments.length;
    await byToken.until(() => byToken.comments.length > beats + 2);
  });

  it('ends a suspended operator’s streams, as every request of theirs is refused; a suspended trader’s goes on', async () => {
    const { api, test } = suite;
    const suspended = await createOperator(test, api);
    const other = await createOperator(test, api);
    const trader = await registerUser(api, 'traveler');
    const key = await api('POST', '/v1/me/api-keys', { token: suspended.token, body: { name: 'console' } });
    expect(key.status).toBe(201);
    const byToken = await openStream(test.baseUrl, '/v1/stream', { token: suspended.token });
    const byKey = await openStream(test.baseUrl, '/v1/stream', { apiKey: key.body.key });
    const traderStream = await openStream(test.baseUrl, '/v1/stream', { token: trader.token });
    await byKey.until(() => byKey.comments.includes('keep-alive'));
    await byToken.until(() => byToken.comments.includes('keep-alive'));
    for (const id of [suspended.id, trader.id]) {
      expect((await api('POST', `/v1/admin/users/${id}/suspend`, { token: other.token })).status).toBe(200);
    }
    await eventually(() => endedWithin(byToken));
    await eventually(() => endedWithin(byKey));
    const beats = traderStream.comments.length;
    await traderStream.until(() => traderStream.comments.length > beats + 2);
  });
});

describe('event streams: a client that stops reading, and a server shutting down', () => {
  const suite = useTestApp({ STREAM_MAX_BUFFERED_BYTES: '65536' });
  afterAll(() => closeAllStreams());

  it('cuts a stream whose client stopped reading once what waits for it passes the cap', async () => {
    const { api, test, db } = suite;
    const user = await registerUser(api, 'traveler');
    const pings = await pingsFannedOut(db, user.id, 2000, 10_000);
    const hub = test.app.get(StreamHub);
    const url = new URL('/v1/stream', test.baseUrl);
    let received = '';
    let closed!: Promise<void>;
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest(url, { headers: { authorization: `Bearer ${user.token}`, 'last-event-id': randomUUID() } }, (res) => {
        // Not reading at first: the server's buffer for this client fills.
        res.pause();
        closed = new Promise<void>((done) => res.on('close', done));
        res.on('error', () => undefined);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (received += chunk));
        resolve(res.statusCode);
        void eventually(async () => hub.size === 0, 20000).then(
          () => res.resume(),
          () => res.resume(),
        );
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    await eventually(async () => hub.size === 0, 20000);
    // Once read, what was sent ends short of the replay: the client reconnects with the last id it got.
    await closed;
    const sent = received.split('\n').filter((line) => line.startsWith('id: '));
    expect(sent.length).toBeLessThan(pings.length);
  });

  it('refuses a stream once the server is shutting down (503, Retry-After), so closing never waits on it', async () => {
    const { api, test } = suite;
    const user = await registerUser(api, 'traveler');
    const open = await openStream(test.baseUrl, '/v1/stream', { token: user.token });
    expect(open.status).toBe(200);
    await test.app.get(StreamHub).beforeApplicationShutdown();
    await open.ended;
    const late = await openStream(test.baseUrl, '/v1/stream', { token: user.token });
    await late.ended;
    expect(late.status).toBe(503);
    expect(JSON.parse(late.text())).toMatchObject({ code: 'service_unavailable' });
    expect(Number(late.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('event streams: an API process without workers, and a separate worker process', () => {
  let apiProcess: TestApp;
  let worker: WorkerProcess | undefined;
  let api: Api;
  let db: Client;
  let closed = false;

  beforeAll(async () => {
    apiProcess = await startTestApp(settling, undefined, { workers: false });
    api = client(apiProcess.baseUrl);
    db = new Client({ connectionString: apiProcess.databaseUrl });
    await db.connect();
    await setReference(apiProcess, '7.2400');
    worker = await startWorkerProcess(apiProcess, settling);
  }, 300000);

  afterAll(async () => {
    closeAllStreams();
    await worker?.stop();
    if (!closed) await db?.end();
    if (!closed) await apiProcess?.close();
  });

  it('sends on the API’s stream a change the worker process made', async () => {
    const who = await paypalParties(api);
    const stream = await openStream(apiProcess.baseUrl, '/v1/stream', { token: who.counterparty.token });
    const tradeId = await openPaypalTrade(api, who);
    await stream.waitFor('trade.created', tradeId);
    await approvePaypal(api, tradeId, who.traveler);
    // Funded by the worker's funding job: its event published by the worker's fan-out, heard by the API's hub.
    const funded = await stream.waitFor('trade.funded', tradeId, 20000);
    expect(funded.json.data.trade).toMatchObject({ state: 'funded', travelerWechatId: who.travelerWechat });
    const byWorker = await db.query(`SELECT count(*)::int AS n FROM events WHERE trade_id = $1 AND type = 'trade.funded'`, [tradeId]);
    expect(byWorker.rows[0].n).toBe(1);
  });

  it('closes its open streams when the API process shuts down', async () => {
    const user = await registerUser(api, 'traveler');
    const stream = await openStream(apiProcess.baseUrl, '/v1/stream', { token: user.token });
    expect(stream.status).toBe(200);
    await worker?.stop();
    worker = undefined;
    await db.end();
    const closing = apiProcess.close();
    closed = true;
    await closing;
    await stream.ended;
  });
});

describe('event streams: events this process fanned out, every number below them heard', () => {
  const suite = useTestApp(settling, { reference: '7.2400' });
  afterEach(() => closeAllStreams());

  it('sends such an event without reading the log; after a number never published, reads and sends in number order', async () => {
    const { api, test, db } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    const tradeId = await openPaypalTrade(api, who);
    await stream.waitFor('trade.created', tradeId);
    const reads = jest.spyOn(test.app.get(EventsRepository), 'replayForUser');
    try {
      await approvePaypal(api, tradeId, who.traveler);
      const funded = await stream.waitFor('trade.funded', tradeId, 20000);
      expect(funded.json.data.trade).toMatchObject({ id: tradeId, state: 'funded' });
      expect(reads).not.toHaveBeenCalled();

      // A number taken by an event that is never published: the next event published has a gap below it.
      const [ping] = await pingsFannedOut(db, who.traveler.id, 1);
      await reportHeldPayout(api, who, tradeId);
      const sent = await stream.waitFor('trade.payout_sent', tradeId, 20000);
      expect(reads).toHaveBeenCalled();
      const order = stream.events.map((event) => event.id);
      expect(order).toContain(ping);
      expect(order.indexOf(ping)).toBeLessThan(order.indexOf(sent.id));
    } finally {
      reads.mockRestore();
    }
  });

  it('after a send that failed, sends the next event by reading the log, the one that failed with it, in order', async () => {
    const { api, test } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    const tradeId = await openPaypalTrade(api, who);
    await stream.waitFor('trade.created', tradeId);
    // The funded event's envelope cannot be built once: it is not sent then.
    const built = jest.spyOn(test.app.get(EnvelopeBuilder), 'of').mockRejectedValueOnce(new Error('the chat could not be read'));
    const reads = jest.spyOn(test.app.get(EventsRepository), 'replayForUser');
    try {
      await approvePaypal(api, tradeId, who.traveler);
      await eventually(async () => built.mock.calls.length > 0, 20000);
      await reportHeldPayout(api, who, tradeId);
      const sent = await stream.waitFor('trade.payout_sent', tradeId, 20000);
      const funded = await stream.waitFor('trade.funded', tradeId, 1000);
      expect(reads).toHaveBeenCalled();
      const order = stream.events.map((event) => event.id);
      expect(order.indexOf(funded.id)).toBeLessThan(order.indexOf(sent.id));
    } finally {
      built.mockRestore();
      reads.mockRestore();
    }
  });
});
