import { randomBytes, randomUUID } from 'node:crypto';
import { verifyPayload } from '../src/common/crypto/hmac-signature';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { TestUser } from './support/factories';
import type { Api } from './support/http';
import { settling } from './support/settings';
import { closeAllStreams, openStream, SseEvent, SseStream } from './support/sse';
import { completedJobResult, eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';
import { approvePaypal, openPaypalTrade, paypalParties, reportHeldPayout } from './support/paypal-trades';
import { ReceivedWebhook, webhookReceiver, WebhookReceiver } from './support/webhook-receiver';

/*
 * Every channel an event reaches a client by, together: both parties' webhook endpoints and streams, an operator's
 * trade stream, the delivery log and the stored rows. That a stream held by an API process without workers carries
 * a worker process's change is shown in events-streams.e2e-spec.ts.
 */

/** Distinctive handles (lower case, as the service keeps WeChat ids), so a search for one never matches another by prefix. */
const handle = (prefix: string) => `${prefix}${randomBytes(6).toString('hex')}`;

/** An endpoint registered for `user`, with its secret (shown once). */
async function endpoint(api: Api, user: TestUser, url: string, events?: string[]): Promise<{ id: string; secret: string }> {
  const created = await api('POST', '/v1/webhooks/endpoints', { token: user.token, body: events ? { url, events } : { url } });
  expect(created.status).toBe(201);
  return created.body;
}

const envelopeOf = (r: ReceivedWebhook) => JSON.parse(r.body);
const typeOf = (r: ReceivedWebhook) => r.headers['x-event-type'] as string;

/** Waits until a path received a request of each type (about this trade). */
async function receivedAll(hooks: WebhookReceiver, path: string, tradeId: string, types: string[], timeoutMs = 20000) {
  return eventually(async () => {
    const got = hooks.at(path).filter((r) => envelopeOf(r).data.trade?.id === tradeId);
    return types.every((type) => got.some((r) => typeOf(r) === type)) && got;
  }, timeoutMs);
}

/** The one request of that type a path received (the last, if retried). */
const deliveryOf = (hooks: WebhookReceiver, path: string, type: string) => {
  const all = hooks.at(path).filter((r) => typeOf(r) === type);
  expect(all.length).toBeGreaterThan(0);
  return all[all.length - 1];
};

/** Every request of a path: signed with its endpoint's secret, its headers naming the envelope it carries. */
function expectSigned(requests: ReceivedWebhook[], secret: string): void {
  for (const request of requests) {
    expect(verifyPayload(secret, request.headers['x-signature'] as string, request.body)).toEqual({ ok: true });
    expect(request.headers['x-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(request.headers['content-type']).toBe('application/json');
    const envelope = envelopeOf(request);
    expect(Object.keys(envelope).sort()).toEqual(['createdAt', 'data', 'id', 'type']);
    expect(request.headers['x-event-id']).toBe(envelope.id);
    expect(request.headers['x-event-type']).toBe(envelope.type);
  }
}

const WHOLE_TRADE = ['trade.created', 'trade.funded', 'trade.payout_sent', 'trade.releasing', 'trade.completed'];
const streamEvent = (stream: SseStream, type: string, tradeId: string) =>
  stream.events.find((e) => e.event === type && e.json?.data?.trade?.id === tradeId);

describe('event delivery: webhooks, streams and the delivery log together', () => {
  const suite = useTestApp(
    {
      ...settling,
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      // A delivery refused once is tried again within the test.
      WEBHOOK_BACKOFF_MS: '200',
      MESSAGE_WINDOW_AFTER_END_MS: '1000',
      MESSAGE_RETENTION_MS: '2000',
      // The texts' sweep runs when a test asks for it.
      MESSAGE_RETENTION_SWEEP_EVERY_MS: '3600000',
    },
    { reference: '7.2400', operator: true },
  );
  let hooks: WebhookReceiver;

  beforeAll(async () => {
    hooks = await webhookReceiver();
  });
  afterEach(() => closeAllStreams());
  afterAll(async () => hooks?.close());

  it('delivers a whole PayPal trade to both parties’ webhooks and streams under one id per event, signed, filtered, and never leaks a handle', async () => {
    const { api, test, operator, db } = suite;
    const who = await paypalParties(api, { traveler: handle('wxt'), counterparty: handle('wxc') });
    const { traveler, counterparty } = who;
    const travelerHook = await endpoint(api, traveler, hooks.url('/trade/traveler'));
    const completedOnly = await endpoint(api, traveler, hooks.url('/trade/traveler-completed'), ['trade.completed']);
    const counterpartyHook = await endpoint(api, counterparty, hooks.url('/trade/counterparty'));
    // The counterparty's receiver refuses trade.completed once: the retry carries the same event.
    hooks.answers.set('/trade/counterparty', (_, r) =>
      typeOf(r) === 'trade.completed' && hooks.at(r.path).filter((x) => typeOf(x) === 'trade.completed').length === 1 ? 500 : 200,
    );
    const travelerStream = await openStream(test.baseUrl, '/v1/stream', { token: traveler.token });
    const counterpartyStream = await openStream(test.baseUrl, '/v1/stream', { token: counterparty.token });

    const tradeId = await openPaypalTrade(api, who);
    await receivedAll(hooks, '/trade/traveler', tradeId, ['trade.created']);
    await receivedAll(hooks, '/trade/counterparty', tradeId, ['trade.created']);
    await counterpartyStream.waitFor('trade.created', tradeId);
    const operatorStream = await openStream(test.baseUrl, `/v1/trades/${tradeId}/stream`, {
      token: operator.token,
      lastEventId: randomUUID(),
    });
    await operatorStream.waitFor('trade.created', tradeId);

    await approvePaypal(api, tradeId, traveler);
    await receivedAll(hooks, '/trade/traveler', tradeId, ['trade.funded']);
    await receivedAll(hooks, '/trade/counterparty', tradeId, ['trade.funded']);
    await counterpartyStream.waitFor('trade.funded', tradeId);
    await travelerStream.waitFor('trade.funded', tradeId);

    // A message while funded: its text to both parties, only that one was sent to the operator's stream.
    // Characters of several bytes: the signature is over the body's bytes as sent.
    const text = `已付款，请尽快转账 👍 ${randomBytes(4).toString('hex')}`;
    const posted = await api('POST', `/v1/trades/${tradeId}/messages`, { token: traveler.token, body: { text } });
    expect(posted.status).toBe(201);
    await receivedAll(hooks, '/trade/traveler', tradeId, ['trade.message']);
    await receivedAll(hooks, '/trade/counterparty', tradeId, ['trade.message']);
    const messageCopies = [
      envelopeOf(deliveryOf(hooks, '/trade/traveler', 'trade.message')),
      envelopeOf(deliveryOf(hooks, '/trade/counterparty', 'trade.message')),
      (await travelerStream.waitFor('trade.message', tradeId)).json,
      (await counterpartyStream.waitFor('trade.message', tradeId)).json,
    ];
    for (const copy of messageCopies) {
      expect(copy).toMatchObject({
        id: messageCopies[0].id,
        type: 'trade.message',
        data: {
          trade: { id: tradeId, state: 'funded' },
          message: { id: posted.body.id, tradeId, sender: { kind: 'traveler', id: traveler.id }, text, erased: false },
        },
      });
    }
    const operatorCopy = (await operatorStream.waitFor('trade.message', tradeId)).json;
    expect(operatorCopy.id).toBe(messageCopies[0].id);
    expect(operatorCopy.data.trade.id).toBe(tradeId);
    expect(operatorCopy.data).not.toHaveProperty('message');

    // The RMB sent and held PROCESSING at WeChat, so the trade stays payout_sent until the traveler confirms.
    await reportHeldPayout(api, who, tradeId);
    await receivedAll(hooks, '/trade/traveler', tradeId, ['trade.payout_sent']);
    await receivedAll(hooks, '/trade/counterparty', tradeId, ['trade.payout_sent']);
    await counterpartyStream.waitFor('trade.payout_sent', tradeId);

    expect((await api('POST', `/v1/trades/${tradeId}/confirm-receipt`, { token: traveler.token })).body.state).toBe('releasing');
    await receivedAll(hooks, '/trade/traveler', tradeId, WHOLE_TRADE);
    await receivedAll(hooks, '/trade/traveler-completed', tradeId, ['trade.completed']);
    await eventually(async () => hooks.at('/trade/counterparty').filter((r) => typeOf(r) === 'trade.completed').length === 2, 20000);
    for (const stream of [travelerStream, counterpartyStream, operatorStream]) {
      await stream.until(
        (events) => WHOLE_TRADE.every((type) => events.some((e) => e.event === type && e.json.data.trade.id === tradeId)),
        20000,
      );
    }

    // Signed with each endpoint's own secret; the headers name the envelope carried.
    expectSigned(hooks.at('/trade/traveler'), travelerHook.secret);
    expectSigned(hooks.at('/trade/traveler-completed'), completedOnly.secret);
    expectSigned(hooks.at('/trade/counterparty'), counterpartyHook.secret);
    expect(
      verifyPayload(
        travelerHook.secret,
        deliveryOf(hooks, '/trade/counterparty', 'trade.funded').headers['x-signature'] as string,
        deliveryOf(hooks, '/trade/counterparty', 'trade.funded').body,
      ),
    ).toMatchObject({ ok: false });

    // One id per event on every channel: both parties' webhooks and streams, the operator's stream; a retry keeps it.
    for (const type of [...WHOLE_TRADE, 'trade.message']) {
      const id = deliveryOf(hooks, '/trade/traveler', type).headers['x-event-id'];
      expect([type, deliveryOf(hooks, '/trade/counterparty', type).headers['x-event-id']]).toEqual([type, id]);
      for (const stream of [travelerStream, counterpartyStream, operatorStream])
        expect([type, streamEvent(stream, type, tradeId)?.id]).toEqual([type, id]);
      // Each event delivered once to each endpoint (the refused one twice, the same event both times).
      expect([type, hooks.at('/trade/traveler').filter((r) => typeOf(r) === type).length]).toEqual([type, 1]);
      // A party's webhook and stream carry the same envelope (each step above waited for both before the next).
      expect(envelopeOf(deliveryOf(hooks, '/trade/traveler', type))).toEqual(streamEvent(travelerStream, type, tradeId)!.json);
      expect(envelopeOf(deliveryOf(hooks, '/trade/counterparty', type))).toEqual(streamEvent(counterpartyStream, type, tradeId)!.json);
    }
    const completedTwice = hooks.at('/trade/counterparty').filter((r) => typeOf(r) === 'trade.completed');
    expect(completedTwice.map((r) => r.headers['x-event-id'])).toEqual([
      completedTwice[0].headers['x-event-id'],
      completedTwice[0].headers['x-event-id'],
    ]);
    expect(completedTwice.map((r) => envelopeOf(r).id)).toEqual([
      completedTwice[0].headers['x-event-id'],
      completedTwice[0].headers['x-event-id'],
    ]);
    // The filter: trade.completed only, the same event as everywhere else.
    expect(hooks.at('/trade/traveler-completed').map(typeOf)).toEqual(['trade.completed']);
    expect(hooks.at('/trade/traveler-completed')[0].headers['x-event-id']).toBe(completedTwice[0].headers['x-event-id']);

    // The delivery log: the same ids, each delivered, the refused one after two attempts.
    const logOf = async (user: TestUser) => api('GET', '/v1/webhooks/deliveries?limit=100', { token: user.token });
    // A delivery is marked after its answer came: the receiver may have seen the last one a moment before.
    const hookIds = new Set([travelerHook.id, completedOnly.id, counterpartyHook.id]);
    const settled = async (user: TestUser) => {
      const log = await logOf(user);
      const rows = log.body.data.filter((d: { endpointId: string }) => hookIds.has(d.endpointId));
      return rows.every((d: { status: string }) => d.status === 'delivered') ? log : undefined;
    };
    const travelerLog = await eventually(() => settled(traveler));
    const counterpartyLog = await eventually(() => settled(counterparty));
    for (const [log, path, hook] of [
      [travelerLog, '/trade/traveler', travelerHook],
      [travelerLog, '/trade/traveler-completed', completedOnly],
      [counterpartyLog, '/trade/counterparty', counterpartyHook],
    ] as const) {
      const rows = log.body.data.filter((d: { endpointId: string }) => d.endpointId === hook.id);
      const sent = new Map(hooks.at(path).map((r) => [r.headers['x-event-id'], typeOf(r)]));
      expect(rows.map((d: { eventId: string; eventType: string }) => [d.eventId, d.eventType]).sort()).toEqual([...sent.entries()].sort());
      for (const row of rows) expect(row).toMatchObject({ status: 'delivered', lastStatusCode: 200 });
    }
    expect(counterpartyLog.body.data.find((d: { eventType: string }) => d.eventType === 'trade.completed')).toMatchObject({
      attempts: 2,
      lastStatusCode: 200,
    });

    // Handles: the traveler's WeChat id only in the counterparty's copies sent while the trade was funded or
    // payout_sent (each step above waited for its deliveries); the counterparty's handles nowhere.
    const whileRevealable = new Set(['trade.funded', 'trade.message', 'trade.payout_sent']);
    const counterpartyCopies: { channel: string; type: string; text: string }[] = [
      ...hooks.at('/trade/counterparty').map((r) => ({ channel: 'webhook', type: typeOf(r), text: r.body })),
      ...counterpartyStream.events
        .filter((e) => e.json?.data?.trade?.id === tradeId)
        .map((e: SseEvent) => ({ channel: 'stream', type: e.event!, text: e.data! })),
    ];
    for (const copy of counterpartyCopies) {
      expect([copy.channel, copy.type, copy.text.includes(who.travelerWechat)]).toEqual([
        copy.channel,
        copy.type,
        whileRevealable.has(copy.type),
      ]);
      if (whileRevealable.has(copy.type)) expect(JSON.parse(copy.text).data.trade.travelerWechatId).toBe(who.travelerWechat);
    }
    const stored = await db.query(
      `SELECT to_jsonb(e)::text AS event, (SELECT jsonb_agg(r)::text FROM event_recipients r WHERE r.event_id = e.id) AS recipients
         FROM events e WHERE e.trade_id = $1`,
      [tradeId],
    );
    expect(stored.rows).toHaveLength(WHOLE_TRADE.length + 1);
    const nowhere = [
      [
        'traveler webhooks',
        hooks
          .at('/trade/traveler')
          .map((r) => r.body)
          .join('\n'),
      ],
      [
        'filtered webhook',
        hooks
          .at('/trade/traveler-completed')
          .map((r) => r.body)
          .join('\n'),
      ],
      ['traveler stream', travelerStream.text()],
      ['operator stream', operatorStream.text()],
      ['traveler delivery log', travelerLog.text],
      ['counterparty delivery log', counterpartyLog.text],
      ['events table', stored.rows.map((r) => `${r.event}${r.recipients}`).join('\n')],
    ];
    for (const [channel, raw] of nowhere) {
      expect(raw.length).toBeGreaterThan(0);
      expect([channel, raw.includes(who.travelerWechat)]).toEqual([channel, false]);
    }
    const everything = [
      ...nowhere,
      ['counterparty webhooks', counterpartyCopies.map((c) => c.text).join('\n')],
      ['counterparty stream', counterpartyStream.text()],
    ];
    for (const [channel, raw] of everything) {
      for (const secret of [who.counterpartyWechat, who.payoutEmail, 'traveler-paypal@example.com'])
        expect([channel, secret, raw.includes(secret)]).toEqual([channel, secret, false]);
    }
    // A message's text is sent to the parties only: never stored with its event, never logged, never to an operator.
    for (const [channel, raw] of nowhere.filter(([channel]) => !channel.startsWith('traveler '))) {
      expect([channel, raw.includes(text)]).toEqual([channel, false]);
    }
  });

  it('sends a message event whose text was erased since as text null and erased true: a stream’s replay, a webhook’s retry', async () => {
    const { api, test } = suite;
    const who = await paypalParties(api, { traveler: handle('wxt'), counterparty: handle('wxc') });
    const hook = await endpoint(api, who.counterparty, hooks.url('/erased/counterparty'), ['trade.message']);
    // The receiver refuses the message event until the text is erased: the retry is built when it is sent.
    let refusing = true;
    hooks.answers.set('/erased/counterparty', () => (refusing ? 503 : 200));
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.counterparty.token });
    const tradeId = await openPaypalTrade(api, who);
    const created = await stream.waitFor('trade.created', tradeId);
    const text = `Before the cancel ${randomBytes(4).toString('hex')}`;
    expect((await api('POST', `/v1/trades/${tradeId}/messages`, { token: who.traveler.token, body: { text } })).status).toBe(201);
    const live = await stream.waitFor('trade.message', tradeId);
    expect(live.json.data.message).toMatchObject({ text, erased: false });
    await eventually(async () => hooks.at('/erased/counterparty').length > 0);
    expect(JSON.parse(hooks.at('/erased/counterparty')[0].body).data.message).toMatchObject({ text, erased: false });
    expect((await api('POST', `/v1/trades/${tradeId}/cancel`, { token: who.traveler.token })).status).toBe(200);
    await stream.waitFor('trade.cancelled', tradeId);
    stream.close();

    // MESSAGE_RETENTION_MS (2 s) after the end, the sweep erases the text.
    const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
    await eventually(async () => {
      const jobId = `erase-messages-${randomUUID()}`;
      await queue.add(JOBS.housekeeping.eraseMessageTexts, {}, { jobId });
      await completedJobResult(queue, jobId);
      const listed = await api('GET', `/v1/trades/${tradeId}/messages`, { token: who.counterparty.token });
      return listed.body.data[0]?.erased === true;
    }, 15000);

    const again = await openStream(test.baseUrl, '/v1/stream', { token: who.counterparty.token, lastEventId: created.id });
    const replayed = await again.waitFor('trade.message', tradeId);
    expect(replayed.id).toBe(live.id);
    expect(replayed.json.data.message).toMatchObject({ sender: { kind: 'traveler', id: who.traveler.id }, text: null, erased: true });
    await again.waitFor('trade.cancelled', tradeId);
    expect(again.text()).not.toContain(text);

    const refused = hooks.at('/erased/counterparty').length;
    refusing = false;
    const accepted = await eventually(
      async () => hooks.at('/erased/counterparty').length > refused && hooks.at('/erased/counterparty').at(-1)!,
      20000,
    );
    expectSigned(hooks.at('/erased/counterparty'), hook.secret);
    expect(accepted.headers['x-event-id']).toBe(live.id);
    expect(JSON.parse(accepted.body).data.message).toMatchObject({ text: null, erased: true });
    expect(accepted.body).not.toContain(text);
  });

  it('delivers a dispute’s events to both parties’ webhooks, never with a statement’s text', async () => {
    const { api, operator } = suite;
    const who = await paypalParties(api, { traveler: handle('wxt'), counterparty: handle('wxc') });
    const travelerHook = await endpoint(api, who.traveler, hooks.url('/dispute/traveler'));
    const counterpartyHook = await endpoint(api, who.counterparty, hooks.url('/dispute/counterparty'));
    const tradeId = await openPaypalTrade(api, who);
    await approvePaypal(api, tradeId, who.traveler);
    await receivedAll(hooks, '/dispute/counterparty', tradeId, ['trade.funded']);

    const opened = await api('POST', `/v1/trades/${tradeId}/disputes`, {
      token: who.traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Statement of the traveler, kept private.' },
    });
    expect(opened.status).toBe(201);
    const disputeId = opened.body.id;
    const added = await api('POST', `/v1/disputes/${disputeId}/statements`, {
      token: who.counterparty.token,
      body: { text: 'Statement of the counterparty, kept private.' },
    });
    expect(added.status).toBe(201);
    const resolved = await api('POST', `/v1/admin/disputes/${disputeId}/resolve`, {
      token: operator.token,
      body: { outcome: 'refund', note: 'No RMB arrived.' },
    });
    expect(resolved.status).toBe(200);

    const types = ['trade.disputed', 'dispute.opened', 'dispute.statement_added', 'dispute.resolved'];
    const travelerGot = await receivedAll(hooks, '/dispute/traveler', tradeId, types);
    const counterpartyGot = await receivedAll(hooks, '/dispute/counterparty', tradeId, types);
    expectSigned(travelerGot, travelerHook.secret);
    expectSigned(counterpartyGot, counterpartyHook.secret);
    for (const type of types) {
      const mine = deliveryOf(hooks, '/dispute/traveler', type);
      expect([type, deliveryOf(hooks, '/dispute/counterparty', type).headers['x-event-id']]).toEqual([type, mine.headers['x-event-id']]);
    }
    expect(envelopeOf(deliveryOf(hooks, '/dispute/counterparty', 'dispute.opened')).data).toMatchObject({
      trade: { id: tradeId, state: 'disputed' },
      dispute: { id: disputeId, status: 'open', reason: 'rmb_not_received' },
    });
    expect(envelopeOf(deliveryOf(hooks, '/dispute/traveler', 'dispute.statement_added')).data.dispute).toMatchObject({ id: disputeId });
    expect(envelopeOf(deliveryOf(hooks, '/dispute/traveler', 'dispute.resolved')).data.dispute).toMatchObject({
      id: disputeId,
      status: 'resolved',
      outcome: 'refund',
    });
    for (const request of [...travelerGot, ...counterpartyGot]) {
      expect(request.body).not.toMatch(/kept private/);
      // Sent while the trade was disputed or later: no handle in any copy.
      if (types.includes(typeOf(request))) expect(request.body).not.toContain(who.travelerWechat);
    }
    for (const user of [who.traveler, who.counterparty]) {
      expect((await api('GET', '/v1/webhooks/deliveries?limit=100', { token: user.token })).text).not.toMatch(/kept private/);
    }
  });
});
