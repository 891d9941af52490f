import type { Queue } from 'bullmq';
import { StreamSink } from '../src/notifications/streams/stream-sink';
import { PublisherQueues } from '../src/outbox/publisher-queues';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { settling } from './support/settings';
import { closeAllStreams, openStream } from './support/sse';
import { completedJobResult, eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';
import { approvePaypal, openPaypalTrade, paypalParties } from './support/paypal-trades';
import { webhookReceiver, WebhookReceiver } from './support/webhook-receiver';

// The fan-out after commit must finish within part of the lease, even on a slow machine.
const LEASE_MS = 5000;

/**
 * The event fan-out done by the process that committed the event, right after the commit, with the `fan-out-event`
 * job as its fallback: when a sink fails there, and when Redis refuses both the fan-out and the job's add (the relay
 * queues the job once the outbox row's lease has run out). Against the real services, workers and Redis.
 */
describe('events fanned out after commit by the process that committed them', () => {
  const suite = useTestApp(
    { ...settling, WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', OUTBOX_POLL_INTERVAL_MS: '50', OUTBOX_AFTER_COMMIT_LEASE_MS: String(LEASE_MS) },
    { reference: '7.2400' },
  );
  let hooks: WebhookReceiver;
  let events: Queue;

  beforeAll(async () => {
    hooks = await webhookReceiver();
    events = suite.test.app.get(QueueRegistry).get(QUEUES.events);
  });
  afterEach(() => {
    closeAllStreams();
    jest.restoreAllMocks();
  });
  afterAll(async () => hooks?.close());

  const fanOutRow = async (eventId: string) =>
    (await suite.db.query(`SELECT published_at IS NOT NULL AS published, attempts FROM outbox WHERE job_id = $1`, [`fan-out-${eventId}`]))
      .rows[0];

  it("reaches a party's stream and webhook with no fan-out job, from the API's commit and from a worker's", async () => {
    const { api, test } = suite;
    const who = await paypalParties(api);
    const created = await api('POST', '/v1/webhooks/endpoints', { token: who.traveler.token, body: { url: hooks.url('/after-commit') } });
    expect(created.status).toBe(201);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });

    const tradeId = await openPaypalTrade(api, who);
    const opened = await stream.waitFor('trade.created', tradeId);
    await approvePaypal(api, tradeId, who.traveler);
    const funded = await stream.waitFor('trade.funded', tradeId, 20000);
    await eventually(async () => {
      const ids = hooks.at('/after-commit').map((r) => r.headers['x-event-id']);
      return ids.includes(opened.id) && ids.includes(funded.id);
    }, 20000);

    for (const event of [opened, funded]) {
      // Done, and marked as any published row is, without BullMQ holding a job for it.
      await eventually(async () => (await fanOutRow(event.id!))?.published, 10000);
      expect(await events.getJob(`fan-out-${event.id}`)).toBeUndefined();
    }
    expect(stream.events.filter((e) => e.id === opened.id)).toHaveLength(1);
  });

  it('queues the fan-out job when a sink fails after the commit, and the job delivers the event', async () => {
    const { api, test } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    jest.spyOn(test.app.get(StreamSink), 'deliver').mockRejectedValueOnce(new Error('connect ECONNREFUSED 127.0.0.1:6379'));

    const tradeId = await openPaypalTrade(api, who);
    const opened = await stream.waitFor('trade.created', tradeId);
    expect(await completedJobResult(events, `fan-out-${opened.id}`)).toEqual({ sinks: 2 });
    await eventually(async () => (await fanOutRow(opened.id!))?.published);
    expect(await fanOutRow(opened.id!)).toEqual({ published: true, attempts: 0 });
    expect(stream.events.filter((e) => e.id === opened.id)).toHaveLength(1);
  });

  it("leaves the event to the relay's job when Redis refuses both the fan-out and the add, and the job delivers it", async () => {
    const { api, test } = suite;
    const who = await paypalParties(api);
    const stream = await openStream(test.baseUrl, '/v1/stream', { token: who.traveler.token });
    const refused = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    jest.spyOn(test.app.get(StreamSink), 'deliver').mockImplementationOnce(refused);
    const writerAdds = jest.spyOn(test.app.get(PublisherQueues).get(QUEUES.events), 'addBulk').mockImplementationOnce(refused);
    const relayAdds = jest.spyOn(events, 'addBulk');

    const tradeId = await openPaypalTrade(api, who);
    const opened = await stream.waitFor('trade.created', tradeId, 20000);
    // Queued by the relay once the row's lease had run out, then run by a worker.
    expect(await completedJobResult(events, `fan-out-${opened.id}`, LEASE_MS + 15000)).toEqual({ sinks: 2 });
    expect(writerAdds).toHaveBeenCalledTimes(1);
    expect(relayAdds).toHaveBeenCalled();
    await eventually(async () => (await fanOutRow(opened.id!))?.published);
    expect(stream.events.filter((e) => e.id === opened.id)).toHaveLength(1);
  });
});
