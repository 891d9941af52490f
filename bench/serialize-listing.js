#!/usr/bin/env node
/*
 * The cost of writing one first page of GET /v1/offers (the page the listing cache keeps as an object), by
 * JSON.stringify and by the serializer compiled from its schema in openapi.json, in µs per page.
 * Usage: npm run build && node bench/serialize-listing.js [--offers 20] [--iterations 20000] [--rounds 3]
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { isDeepStrictEqual } = require('node:util');
// The serializer compiler Fastify itself compiles response schemas with.
const fastJson = require(require.resolve('fast-json-stringify', { paths: [require.resolve('fastify')] }));
const { serializedSchemas } = require('../dist/src/bootstrap/openapi/response-serializers');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const offers = option('offers', 20);
const iterations = option('iterations', 20000);
const rounds = option('rounds', 3);

const document = JSON.parse(readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8'));
const serialize = fastJson(serializedSchemas(document).get('GET /v1/offers'));

const uuid = (n) => `3fa85f64-5717-4562-b3fc-${String(n).padStart(12, '0')}`;
const page = {
  data: Array.from({ length: offers }, (_, n) => ({
    id: uuid(n),
    counterpartyId: uuid(100000 + n),
    minCny: '500.00',
    maxCny: '5000.00',
    totalCny: '20000.00',
    availableCny: '18500.00',
    price: n % 2 ? { type: 'fixed', rate: '7.2100' } : { type: 'floating', premiumBps: -150 + n },
    effectiveRate: '7.2300',
    paymentMethods: ['paypal', 'bank_transfer'],
    status: 'active',
    createdAt: '2026-12-06T10:00:00.000Z',
    updatedAt: '2026-12-06T10:05:00.000Z',
    maker: {
      id: uuid(100000 + n),
      displayName: `Maker ${n}`,
      reputation: {
        completedTrades: 42,
        completionRate: 0.9762,
        medianReleaseMinutes: 12,
        ratingAverage: 4.85,
        ratingCount: 40,
        disputesLost: 0,
      },
    },
  })),
  nextCursor: 'eyJjIjoiMjAyNi0xMi0wNlQxMDowMDowMC4wMDBaIiwiaSI6IjNmYTg1ZjY0In0',
  referenceRate: '7.2400',
};
if (!isDeepStrictEqual(JSON.parse(serialize(page)), page)) throw new Error('the compiled serializer writes another body');

function microsPerPage(write) {
  for (let i = 0; i < 2000; i += 1) write(page);
  const started = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < iterations; i += 1) bytes += write(page).length;
  const micros = Number(process.hrtime.bigint() - started) / 1000 / iterations;
  return { micros: Math.round(micros * 10) / 10, bytes: bytes / iterations };
}

// Alternated, best of `--rounds` each, so that a neighbour's load spike does not land on one side only.
const runs = { stringify: [], compiled: [] };
for (let round = 0; round < rounds; round += 1) {
  runs.stringify.push(microsPerPage(JSON.stringify));
  runs.compiled.push(microsPerPage(serialize));
}
const best = (list) => list.reduce((a, b) => (b.micros < a.micros ? b : a));
const stringify = best(runs.stringify);
const compiled = best(runs.compiled);
console.log(
  JSON.stringify({
    offers,
    iterations,
    bytes: stringify.bytes,
    stringifyMicros: stringify.micros,
    compiledMicros: compiled.micros,
    ratio: Math.round((compiled.micros / stringify.micros) * 100) / 100,
  }),
);
