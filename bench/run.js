#!/usr/bin/env node
/*
 * The whole benchmark suite, every figure measured in the same run so they can be compared:
 *   1. ceilings: PostgreSQL (pgbench TPC-B) and a bare Fastify + pg server answering one indexed read;
 *   2. hot endpoints (listings with 100,000 open offers, a trade, the trade list, a reputation read, accepts under
 *      contention at a fixed rate) with 10,000 and then 1,000,000 historical trades in the database;
 *   3. whole trades per second, API and workers in one process, then one API and one worker process, the mocks in a
 *      process of their own: per trade, CPU by process, statements, commits and Redis commands;
 *   4. provider webhook arriving → the trade's new state visible;
 *   5. what RSA costs per operation (every webhook and WeChat Pay call signs or checks one);
 *   6. events while whole trades run: deliveries per second to local webhook receivers, state change → webhook
 *      and → stream message, and trades per second with receivers and streams attached vs without;
 *   7. outbox hops while whole trades run: an outbox row's insert → its job's start in a worker, per queue;
 *   8. accepts of one request (bench/race.js): smooth open-loop arrivals at 200/s (latency from each scheduled send),
 *      autocannon's bursty `overallRate` beside it, and the accepts one request row serves in a closed loop, as a
 *      ratio of the same loop spread over a request per racer.
 * Prints a table with our figures as ratios to the ceilings (absolute numbers drift on a shared machine, ratios
 * measured together do not) and writes every figure as JSON under bench-results/.
 * Usage: npm run bench [-- --quick] [-- --only ceilings,endpoints,trades,webhooks,rsa,events,outbox,race] [-- --offers N --makers N]
 *   [-- --mocks-in-process]
 * --quick runs a reduced version (shorter loads, less data) in under two minutes.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fastifyPgCeiling, pgbenchCeiling } = require('./ceilings');
const { benchEndpoints } = require('./endpoints');
const { benchEvents } = require('./events');
const { benchOutboxHops } = require('./outbox-hops');
const { benchRace } = require('./race');
const { benchRsa } = require('./rsa');
const { benchWholeTrades } = require('./trades');
const { benchWebhookLatency } = require('./webhook-latency');

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? null : new Set(process.argv[onlyAt + 1].split(','));
const wanted = (part) => !only || only.has(part);
// The provider mocks run as their own process, as real providers are apart from us; --mocks-in-process serves them
// from the service as `npm start` does, to compare.
const mocksApart = !process.argv.includes('--mocks-in-process');
const numberOption = (name) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined);

const plan = quick
  ? {
      pgbench: { scale: 8, clients: 8, seconds: 4 },
      fastify: { connections: 50, seconds: 3 },
      endpoints: { seconds: 2, offers: 10000, historySmall: 2000, historyLarge: 20000 },
      trades: { clients: 20, seconds: 5 },
      webhooks: { trades: 2, wechatLeg: true },
      events: { clients: 20, seconds: 5 },
      outbox: { clients: 20, seconds: 5 },
      race: { rate: 200, seconds: 3, racers: 64 },
    }
  : {
      pgbench: { scale: 8, clients: 8, seconds: 20 },
      fastify: { connections: 50, seconds: 10 },
      endpoints: { seconds: 10, offers: 100000, historySmall: 10000, historyLarge: 1000000 },
      trades: { clients: 50, seconds: 30 },
      webhooks: { trades: 30, wechatLeg: true },
      events: { clients: 50, seconds: 30 },
      outbox: { clients: 50, seconds: 30 },
      race: { rate: 200, seconds: 10, racers: 64 },
    };

// The listing's book, overridable in a quick run: --offers 100000 --makers 1000.
for (const [name, key] of [
  ['--offers', 'offers'],
  ['--makers', 'makers'],
]) {
  if (numberOption(name) !== undefined) plan.endpoints[key] = numberOption(name);
}

const log = (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const ratio = (value, ceiling) => (value && ceiling ? (value / ceiling).toFixed(3) : '—');

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  return rows.map((row) => row.map((cell, i) => String(cell).padEnd(widths[i])).join('  ')).join('\n');
}

/** A whole-trades run's rows: its rate, then per completed trade where the CPU, statements, commits and Redis commands went. */
function tradeRows(run, pg) {
  const cpu = run.cpuMsPerTrade;
  const sql = run.statementsPerTrade;
  const join = (entries) => entries.map(([name, value]) => `${name} ${value}`).join(', ');
  const rows = [
    [run.scenario, `${run.tradesPerSecond} trades/s, whole trade p99 ${run.latencyMs.trade.p99} ms`, '', '≥ 25 trades/s'],
    [
      `  write transactions, whole server (${run.writeTransactionsPerTrade} a trade)`,
      `${run.writeTransactionsPerSecond} tx/s`,
      `${ratio(run.writeTransactionsPerSecond, pg?.tps)} of pgbench`,
      '',
    ],
  ];
  if (!cpu) return rows;
  rows.push([
    '  CPU ms a trade: platform (API, worker, its PostgreSQL, its Redis)',
    `${cpu.platform} (${join(Object.entries(cpu).filter(([name]) => name !== 'platform'))})`,
    `load ${run.loadAverage[0]}`,
    'platform ≤ 25, mocks ≤ 25',
  ]);
  for (const [name, counted] of Object.entries(sql)) {
    rows.push([
      `  ${name}: statements, transactions (writing) a trade`,
      `${counted.statements}, ${counted.transactions} (${counted.writeTransactions})`,
      join(Object.entries(counted.topKinds).slice(0, 4)),
      name === 'mocks' ? '' : 'writing ≤ 12',
    ]);
  }
  rows.push(['  commits a trade, by database (pg_stat_database)', join(Object.entries(run.commitsPerTrade)), '', 'service ≤ 15']);
  rows.push([
    '  Redis commands a trade',
    join(Object.entries(run.redisCommandsPerTrade).map(([side, counted]) => [side, counted.total])),
    join(Object.entries(run.redisCommandsPerTrade.service.top).slice(0, 4)),
    '',
  ]);
  return rows;
}

function report(results) {
  const pg = results.ceilings?.pgbench;
  const fastify = results.ceilings?.fastifyPg;
  const rows = [['figure', 'value', 'ratio to ceiling', 'target']];
  if (pg) rows.push(['ceiling: pgbench TPC-B, scale 8, 8 clients', `${Math.round(pg.tps)} tps`, '1', '']);
  if (fastify)
    rows.push([
      'ceiling: Fastify + pg, one indexed read, 50 conns',
      `${fastify.requestsPerSecond} req/s, p99 ${fastify.latencyMs.p99} ms`,
      '1',
      '',
    ]);
  for (const run of results.trades ?? []) rows.push(...tradeRows(run, pg));
  const rounds = results.endpoints?.rounds ?? [];
  for (const name of Object.keys(rounds[0]?.endpoints ?? {})) {
    const [small, large] = rounds.map((round) => round.endpoints[name]);
    const target = name.startsWith('GET /v1/offers') ? '≥ 0.5 of Fastify + pg, p99 < 20 ms' : name.startsWith('POST') ? 'p99 < 50 ms' : '';
    rows.push([
      `${name} (${rounds[0].historicalTrades} trades)`,
      `${small.requestsPerSecond} req/s, p99 ${small.latencyMs.p99} ms`,
      `${ratio(small.requestsPerSecond, fastify?.requestsPerSecond)} of Fastify + pg`,
      target,
    ]);
    if (large) {
      const change = (((large.requestsPerSecond - small.requestsPerSecond) / small.requestsPerSecond) * 100).toFixed(1);
      rows.push([
        `  with ${rounds[1].historicalTrades} trades`,
        `${large.requestsPerSecond} req/s, p99 ${large.latencyMs.p99} ms`,
        `${change}% req/s vs the smaller history`,
        'within 10%',
      ]);
    }
  }
  for (const [operation, cost] of Object.entries(results.rsa ?? {})) {
    rows.push([operation, `${cost.msEach} ms (${cost.perSecond}/s on one core)`, '', '']);
  }
  if (results.webhooks) {
    const hooks = results.webhooks;
    rows.push([
      'provider webhook → visible state',
      `p50 ${hooks.webhookToVisibleMs.p50} ms, p99 ${hooks.webhookToVisibleMs.p99} ms`,
      '',
      'p99 < 100 ms',
    ]);
    rows.push([
      '  one whole trade costs',
      `${hooks.perTrade.paypalCalls} PayPal + ${hooks.perTrade.wechatCalls} WeChat calls, ${hooks.perTrade.writeTransactions} write tx`,
      '',
      '',
    ]);
  }
  if (results.events) {
    const events = results.events;
    const hooks = events.webhooks;
    const late = (latency) => `p50 ${latency.fromStateChange.p50} ms, p99 ${latency.fromStateChange.p99} ms`;
    rows.push([
      `events: webhook deliveries, ${events.endpoints} endpoints, ${events.clients} clients trading`,
      `${hooks.deliveriesPerSecond} deliveries/s (${hooks.addressedPerSecond}/s addressed)`,
      `${ratio(hooks.deliveriesPerSecond, hooks.addressedPerSecond)} of addressed`,
      '1 (keeps up)',
    ]);
    rows.push(['  state change → webhook at the receiver', late(hooks.latencyMs), '', '']);
    rows.push([`  state change → stream message (${events.streams} streams)`, late(events.stream.latencyMs), '', '']);
    rows.push([
      '  whole trades with receivers and streams',
      `${events.withReceivers.tradesPerSecond} trades/s (without: ${events.withoutReceivers.tradesPerSecond} before, ${events.withoutReceiversAfter.tradesPerSecond} after)`,
      `${events.tradesWithVsWithout} of without`,
      '',
    ]);
    rows.push([
      '  write transactions a trade, with vs without',
      `${events.withReceivers.writeTransactionsPerTrade} vs ${events.withoutReceivers.writeTransactionsPerTrade}`,
      '',
      '',
    ]);
  }
  if (results.outbox) {
    const { all } = results.outbox.hopMs;
    rows.push([
      `outbox hop: row insert → job start (${results.outbox.hopsPerTrade} a trade, ${results.outbox.clients} clients trading)`,
      `p50 ${all.p50} ms, p99 ${all.p99} ms`,
      '',
      'p99 < 20 ms',
    ]);
    const publish = results.outbox.publishMs.all;
    rows.push(['  its first part: row insert → job in Redis', `p50 ${publish.p50} ms, p99 ${publish.p99} ms`, '', '']);
  }
  if (results.race) {
    const race = results.race;
    const cpu = (phase) => (phase.serviceCpuMsPerAccept === null ? '' : `, ${phase.serviceCpuMsPerAccept} ms service CPU each`);
    rows.push([
      `accepts of one request, smooth arrivals at ${race.rate}/s`,
      `${race.smooth.servedPerSecond}/s served, p50 ${race.smooth.latencyMs.p50} ms, p99 ${race.smooth.latencyMs.p99} ms${cpu(race.smooth)}`,
      '',
      `p99 < 50 ms at ${race.rate}/s`,
    ]);
    rows.push([
      `  bursty (autocannon overallRate ${race.rate}/s)`,
      `${race.bursty.servedPerSecond}/s served, p50 ${race.bursty.latencyMs.p50} ms, p99 ${race.bursty.latencyMs.p99} ms`,
      '',
      '',
    ]);
    rows.push([
      `  capacity on one row, ${race.capacity.racers} racers`,
      `${race.capacity.servedPerSecond} accepts/s (a request each: ${race.ceilingWithoutRow.servedPerSecond}/s)${cpu(race.capacity)}`,
      `${race.oneRowOfCeiling} of a request each`,
      '≥ 500 accepts/s',
    ]);
  }
  return table(rows);
}

async function main() {
  const results = { startedAt: new Date().toISOString(), quick, node: process.version, cpus: os.cpus().length, plan };
  if (wanted('ceilings')) {
    log('ceiling: pgbench');
    const pgbench = await pgbenchCeiling(plan.pgbench);
    log('ceiling: Fastify + pg');
    results.ceilings = { pgbench, fastifyPg: await fastifyPgCeiling(plan.fastify) };
  }
  if (wanted('endpoints')) {
    log(
      `hot endpoints with ${plan.endpoints.offers} offers from ${plan.endpoints.makers ?? 1000} makers, ${plan.endpoints.historySmall} then ${plan.endpoints.historyLarge} historical trades`,
    );
    results.endpoints = await benchEndpoints(plan.endpoints);
  }
  if (wanted('trades')) {
    results.trades = [];
    for (const split of [false, true]) {
      log(
        `whole trades, ${split ? 'API and worker apart' : 'one process'}, mocks ${mocksApart ? 'apart' : 'in the service'}, ${plan.trades.clients} clients`,
      );
      results.trades.push(await benchWholeTrades({ ...plan.trades, split, mocksApart }));
    }
  }
  if (wanted('webhooks')) {
    log('provider webhook → visible state');
    results.webhooks = await benchWebhookLatency(plan.webhooks);
  }
  if (wanted('events')) {
    log(`events to webhook receivers and streams, ${plan.events.clients} clients`);
    results.events = await benchEvents(plan.events);
  }
  if (wanted('outbox')) {
    log(`outbox hops, ${plan.outbox.clients} clients trading`);
    results.outbox = await benchOutboxHops(plan.outbox);
  }
  if (wanted('race')) {
    log(`accepts of one request: smooth at ${plan.race.rate}/s, bursty, capacity with ${plan.race.racers} racers`);
    results.race = await benchRace(plan.race);
  }
  if (wanted('rsa')) results.rsa = benchRsa({ seconds: quick ? 0.5 : 2 });
  results.finishedAt = new Date().toISOString();
  const directory = path.join(__dirname, '..', 'bench-results');
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, `bench-${results.startedAt.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${report(results)}\n\nAll figures: ${path.relative(process.cwd(), file)}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
