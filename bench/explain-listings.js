#!/usr/bin/env node
/*
 * Prints EXPLAIN (ANALYZE, BUFFERS) of the offer listing queries over 100,000 open offers, exactly as the
 * service builds them (the built MarketRepository writes the SQL; this script only prefixes EXPLAIN).
 * Usage: npm run build && node bench/explain-listings.js [--offers 100000] [--makers 1000]
 */
const { Client } = require('pg');
const { loadDatabaseConfig } = require('../dist/src/config');
const { ensureDatabaseExists, runMigrations } = require('../dist/src/database/preflight');
const { MarketRepository } = require('../dist/src/market/market.repository');
const { planListing } = require('../dist/src/market/listing-order');
const { seedOffers } = require('./seed');
const { dropDatabase, freshDatabaseUrl } = require('./harness');

const arg = (name, fallback) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const offers = arg('--offers', 100000);
const makers = arg('--makers', 1000);

async function main() {
  const url = freshDatabaseUrl('yb_explain');
  const config = loadDatabaseConfig({ DATABASE_URL: url.toString() });
  await ensureDatabaseExists(config);
  await runMigrations(config);
  await seedOffers(url.toString(), offers, { makers });
  const db = new Client({ connectionString: url.toString() });
  await db.connect();
  try {
    // Listings read through the pool of the data source's driver (prepared statements): run their SQL under
    // EXPLAIN instead.
    const plans = [];
    const explain = async (sql, params) => {
      const result = await db.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params);
      plans.push(result.rows.map((r) => r['QUERY PLAN']).join('\n'));
      return { rows: [] };
    };
    const explaining = { driver: { master: { query: ({ text, values }) => explain(text, values) } } };
    const repository = new MarketRepository(explaining);
    const reference = 72400n;
    const cases = [
      [
        'first page, no filter',
        { statuses: ['active'], hideSuspendedMakers: true, plan: planListing('offers', reference, undefined, {}), reference, limit: 21 },
      ],
      [
        'a later page (cursor in the middle of the book)',
        {
          statuses: ['active'],
          hideSuspendedMakers: true,
          plan: planListing('offers', reference, { rate: 72400n, kind: 0, premiumBps: 0n, id: '80000000-0000-4000-8000-000000000000' }, {}),
          reference,
          limit: 21,
        },
      ],
      [
        'filters: bank_transfer, amountCny 3000, minRate 7.2000',
        {
          statuses: ['active'],
          hideSuspendedMakers: true,
          paymentMethod: 'bank_transfer',
          amountCny: 300000n,
          plan: planListing('offers', reference, undefined, { minRate: 72000n }),
          reference,
          limit: 21,
        },
      ],
    ];
    for (const [name, query] of cases) {
      await repository.listOffers(query);
      process.stdout.write(`### ${name}\n\n\`\`\`\n${plans.pop()}\n\`\`\`\n\n`);
    }
    // Whether the service's named statement settles on one generic plan (planned once per connection) or is
    // planned again on every call: each case run 10 times as the driver runs it, then PostgreSQL's own count.
    const statements = [];
    const capturing = { driver: { master: { query: ({ text, values }) => (statements.push({ text, values }), { rows: [] }) } } };
    for (const [, query] of cases) await new MarketRepository(capturing).listOffers(query);
    process.stdout.write('### plans of the named statements after 10 calls each\n\n');
    for (const [i, { text, values }] of statements.entries()) {
      for (let n = 0; n < 10; n += 1) await db.query({ name: `listing_${i}`, text, values });
      const { rows } = await db.query(`SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1`, [`listing_${i}`]);
      process.stdout.write(`- ${cases[i][0]}: ${rows[0].generic_plans} generic, ${rows[0].custom_plans} custom\n`);
    }
  } finally {
    await db.end();
    await dropDatabase(url);
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
