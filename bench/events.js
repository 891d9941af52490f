#!/usr/bin/env node
// @ts-check
/*
 * What telling clients costs and how fast they are told, while whole trades run (as bench/trades.js drives them):
 *   - events delivered per second to a local webhook receiver (both parties of every pair with an endpoint);
 *   - the time from a state change to its webhook arriving at the receiver, and to its message arriving on a
 *     `GET /v1/stream` the bench holds for the traveler of every pair;
 *   - completed trades per second with receivers and streams attached, beside the same figure, same service and
 *     same clients, in a round just before and a round just after with no receiver and no stream (events are
 *     still recorded and fanned out then, to nobody: what is compared is the cost of telling clients).
 * A state change is dated by its `state_changed` timeline row (`trade_events.at`, the database's clock_timestamp()
 * at that row's insert, just before the commit); the envelope's `createdAt` is the database's now(), the start of
 * the transaction, so it also counts the transaction's own work and lock waits, and is given beside for every event.
 * The database, the receiver and the bench share one machine and so one clock.
 * Usage: npm run build && node bench/events.js [--clients 20] [--seconds 30]
 */
const http = require('node:http');
const os = require('node:os');
const { Client } = require('pg');
const {
  apiClients,
  ok,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  percentiles,
  serviceEnv,
  startService,
  stopService,
  tradingPair,
  until,
  wholeTrade,
} = require('./harness');

/** A webhook receiver on loopback: answers 204 as soon as a request arrives, then reads the envelope. */
async function startReceiver() {
  const arrivals = [];
  const server = http.createServer((req, res) => {
    const at = Date.now();
    res.writeHead(204).end();
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      try {
        arrivals.push({ at, to: req.url, envelope: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch {
        arrivals.push({ at, to: req.url, envelope: null });
      }
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve(undefined));
    });
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}/hooks`, arrivals, close };
}

/** `GET /v1/stream` held open: every `id:`/`event:`/`data:` message with the moment its last line arrived. */
function openStream(baseUrl, token, name, timeoutMs = 10000) {
  const messages = [];
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}/v1/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`stream: ${res.statusCode}`));
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk) => {
        const at = Date.now();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message = {};
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue; // a comment (the keep-alive) or an empty line
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, '');
            message[field] = field === 'data' && message.data !== undefined ? `${message.data}\n${value}` : value;
          }
          if (message.data === undefined) continue;
          try {
            messages.push({ at, to: name, id: message.id, type: message.event, envelope: JSON.parse(message.data) });
          } catch {
            messages.push({ at, to: name, id: message.id, type: message.event, envelope: null });
          }
        }
      });
      res.on('error', () => undefined);
      resolve({ messages, close: () => req.destroy() });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('stream not open in time'));
    }, timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Every client trades back to back until `stopAt`; completed trades per second over the time they took, and the
 * write transactions per trade (a transaction id is assigned only to one that writes, and to the query reading it).
 */
async function tradeLoad(http, db, pairs, seconds) {
  const xid = async () => Number((await db.query(`SELECT pg_current_xact_id()::text::bigint AS xid`)).rows[0].xid);
  const xidBefore = await xid();
  const startedAt = performance.now();
  const startedAtMs = Date.now();
  const stopAt = Date.now() + seconds * 1000;
  let completed = 0;
  const tradeIds = [];
  await Promise.all(
    pairs.map(async (pair) => {
      while (Date.now() < stopAt) {
        tradeIds.push(await wholeTrade(http, pair));
        completed += 1;
      }
    }),
  );
  const elapsed = (performance.now() - startedAt) / 1000;
  const writes = (await xid()) - xidBefore - 1;
  return {
    startedAtMs,
    endedAtMs: Date.now(),
    seconds: Number(elapsed.toFixed(1)),
    completedTrades: completed,
    tradesPerSecond: Number((completed / elapsed).toFixed(2)),
    writeTransactionsPerTrade: Number((writes / Math.max(1, completed)).toFixed(1)),
    tradeIds,
  };
}

/**
 * Milliseconds from each state change to the arrival of its event (first arrival of an event id at each receiving
 * endpoint or stream: both parties get the same event), by the timeline
 * row of the state the envelope's trade is in (events that change no state, such as a message, have none) and by
 * the envelope's `createdAt`.
 */
function latencies(arrivals, changedAt) {
  const first = new Map();
  for (const arrival of arrivals) {
    const key = arrival.envelope?.id && `${arrival.to}:${arrival.envelope.id}`;
    if (key && (!first.has(key) || first.get(key).at > arrival.at)) first.set(key, arrival);
  }
  const fromChange = [];
  const fromCreatedAt = [];
  for (const { at, envelope } of first.values()) {
    if (envelope.type === 'ping') continue;
    fromCreatedAt.push(at - Date.parse(envelope.createdAt));
    const trade = envelope.data?.trade;
    const changed = trade && changedAt.get(`${trade.id}:${trade.state}`);
    if (changed !== undefined) fromChange.push(at - changed);
  }
  return {
    events: first.size,
    fromStateChange: { samples: fromChange.length, ...percentiles(fromChange) },
    fromCreatedAt: { samples: fromCreatedAt.length, ...percentiles(fromCreatedAt) },
  };
}

async function benchEvents({ clients = 20, seconds = 30, port = 3906 } = {}) {
  const loadBefore = os.loadavg().map((n) => Number(n.toFixed(2)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const databaseUrl = freshDatabaseUrl('yb_events');
  const env = serviceEnv(databaseUrl, port, {
    PROVIDER_POLL_EVERY_MS: '1000',
    PAYPAL_MOCK_PAYOUT_DELAY_MS: '50',
    OUTBOX_POLL_INTERVAL_MS: '200',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  });
  const db = new Client({ connectionString: databaseUrl.toString() });
  let child;
  let receiver;
  const streams = [];
  const endpoints = [];
  try {
    ({ child } = await startService(env, baseUrl));
    await db.connect();
    receiver = await startReceiver();
    const pairs = [];
    for (let i = 0; i < clients; i += 1) pairs.push(await tradingPair(http, String(i)));
    // Unmeasured trades first, as bench/trades.js does: a service just started serves far less at first.
    const warmUntil = Date.now() + Math.min(10, seconds / 3) * 1000;
    await Promise.all(
      pairs.map(async (pair) => {
        while (Date.now() < warmUntil) await wholeTrade(http, pair);
      }),
    );

    const without = await tradeLoad(http, db, pairs, seconds);

    for (const [i, pair] of pairs.entries()) {
      for (const [party, token] of [
        ['t', pair.traveler],
        ['c', pair.counterparty],
      ]) {
        const endpoint = await ok(http.as(token).POST('/v1/webhooks/endpoints', { body: { url: `${receiver.url}/${i}${party}` } }));
        endpoints.push({ id: endpoint.id, token });
      }
      streams.push(await openStream(baseUrl, pair.traveler, `stream ${i}t`));
    }
    const arrivalsBefore = receiver.arrivals.length;
    const withReceivers = await tradeLoad(http, db, pairs, seconds);
    const deliveredDuringTrades = receiver.arrivals.length - arrivalsBefore;
    // Every recipient of these trades' events has one endpoint: the figures are read once each has its delivery
    // (a bounded wait; what is still missing after it shows in the counts).
    const drainStartedAt = Date.now();
    const undelivered = async () =>
      Number(
        (
          await db.query(
            `SELECT count(*) AS n FROM events e JOIN event_recipients r ON r.event_id = e.id
              WHERE e.trade_id = ANY($1::uuid[]) AND NOT EXISTS (
                SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
                 WHERE d.event_id = e.id AND w.user_id = r.user_id AND d.status = 'delivered')`,
            [withReceivers.tradeIds],
          )
        ).rows[0].n,
      );
    await until(async () => (await undelivered()) === 0, 60000, 50).catch(() => undefined);
    const drainMs = Date.now() - drainStartedAt;
    const undeliveredAfterWait = await undelivered();
    const { rows: counts } = await db.query(
      `SELECT count(*) FILTER (WHERE created_at >= to_timestamp($1::double precision / 1000)
                                 AND created_at <= to_timestamp($2::double precision / 1000)) AS created_during_trades,
              count(*) FILTER (WHERE status = 'delivered') AS delivered,
              count(*) FILTER (WHERE status = 'pending') AS pending,
              count(*) FILTER (WHERE status = 'failed') AS failed,
              count(*) FILTER (WHERE attempts > 1) AS retried
         FROM webhook_deliveries`,
      [withReceivers.startedAtMs, withReceivers.endedAtMs],
    );
    const { rows: changes } = await db.query(
      `SELECT trade_id, to_state, extract(epoch FROM at) * 1000 AS at_ms FROM trade_events
        WHERE type = 'state_changed' AND trade_id = ANY($1::uuid[])`,
      [withReceivers.tradeIds],
    );
    // Where a webhook's time goes, by the service's own rows: the event's commit to its fan-out's delivery row
    // (both now(), transaction starts), and that row to the receiver's 2xx being recorded.
    const { rows: hops } = await db.query(
      `SELECT extract(epoch FROM d.created_at - e.created_at) * 1000 AS fan_out_ms,
              extract(epoch FROM d.delivered_at - d.created_at) * 1000 AS delivery_ms
         FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
        WHERE d.status = 'delivered' AND e.trade_id = ANY($1::uuid[])`,
      [withReceivers.tradeIds],
    );
    const changedAt = new Map(changes.map((row) => [`${row.trade_id}:${row.to_state}`, Number(row.at_ms)]));
    const windowSeconds = (withReceivers.endedAtMs - withReceivers.startedAtMs) / 1000;
    const deliveriesPerSecond = deliveredDuringTrades / windowSeconds;
    const addressedPerSecond = Number(counts[0].created_during_trades) / windowSeconds;
    const webhook = latencies(receiver.arrivals.slice(arrivalsBefore), changedAt);
    const stream = latencies(
      streams.flatMap((s) => s.messages),
      changedAt,
    );

    // The same load again with every receiver and stream gone: on a shared machine the load drifts, and the
    // database grows, between the first round and the second; the figure with them is compared to both rounds.
    const streamCount = streams.length;
    const streamMessages = streams.reduce((n, s) => n + s.messages.length, 0);
    for (const stream of streams.splice(0)) stream.close();
    for (const { id, token } of endpoints) await ok(http.as(token).DELETE('/v1/webhooks/endpoints/{id}', { params: { path: { id } } }));
    const withoutAfter = await tradeLoad(http, db, pairs, seconds);
    const withoutMean = (without.tradesPerSecond + withoutAfter.tradesPerSecond) / 2;
    const bare = (round) => ({ ...round, tradeIds: undefined, startedAtMs: undefined, endedAtMs: undefined });
    return {
      scenario: 'events to webhook receivers and streams during whole trades (API and workers in one process)',
      clients,
      loadAverage: { before: loadBefore, after: os.loadavg().map((n) => Number(n.toFixed(2))) },
      endpoints: clients * 2,
      streams: streamCount,
      withoutReceivers: bare(without),
      withReceivers: bare(withReceivers),
      withoutReceiversAfter: bare(withoutAfter),
      // Trades per second with receivers and streams over the mean of the rounds before and after without them.
      tradesWithVsWithout: Number((withReceivers.tradesPerSecond / withoutMean).toFixed(3)),
      webhooks: {
        deliveredDuringTrades,
        deliveriesPerSecond: Number(deliveriesPerSecond.toFixed(1)),
        addressedPerSecond: Number(addressedPerSecond.toFixed(1)),
        // 1 when deliveries keep up with the events addressed to endpoints.
        deliveredVsAddressed: Number((deliveriesPerSecond / Math.max(addressedPerSecond, 1e-9)).toFixed(3)),
        drainAfterTradesMs: drainMs,
        undeliveredAfterWait,
        deliveries: Object.fromEntries(Object.entries(counts[0]).map(([key, value]) => [key, Number(value)])),
        latencyMs: webhook,
        hopsMs: {
          eventToDeliveryRow: percentiles(hops.map((row) => Number(row.fan_out_ms))),
          deliveryRowToDelivered: percentiles(hops.map((row) => Number(row.delivery_ms))),
        },
      },
      stream: { messages: streamMessages, latencyMs: stream },
    };
  } finally {
    for (const stream of streams) stream.close();
    if (receiver) await receiver.close();
    await db.end().catch(() => undefined);
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

module.exports = { benchEvents };

if (require.main === module) {
  benchEvents({ clients: numberArg('clients', 20), seconds: numberArg('seconds', 30) })
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch((error) => {
      process.stderr.write(`events bench failed: ${error.stack ?? error}\n`);
      process.exit(1);
    });
}
