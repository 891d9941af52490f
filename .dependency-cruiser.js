/**
 * The ladder of the house: each folder of src/ may import only the folders below it, so no arrow runs back up and
 * no two folders import each other. `npm run lint:deps` checks it (CI runs it with the linters).
 */
const LADDER = [
  'config',
  'logging.ts',
  'common',
  'runtime.ts',
  'database',
  'redis',
  'metrics',
  'queues',
  'outbox',
  'events',
  'idempotency',
  'audit',
  'ledger',
  'provider-health',
  'health',
  'users',
  'rates',
  'market',
  'trades',
  'disputes',
  'chat',
  'ratings',
  'payments',
  'reconciliation',
  'notifications',
  'housekeeping',
  'key-rotation',
  'account-privacy',
  'sandbox',
  'admin',
  'console',
  // The entry points wire everything together.
  'app.module.ts',
  'sandbox-app.module.ts',
  'bootstrap',
  'main.ts',
  'worker.ts',
  'sandbox-main.ts',
  'cli.ts',
];

const escape = (name) => name.replace(/[.]/g, '\\.');
const path = (name) => (name.endsWith('.ts') ? `^src/${escape(name)}$` : `^src/${escape(name)}/`);

const ladderRules = LADDER.slice(0, -1).map((name, rank) => ({
  name: `ladder-${name}`,
  comment: `src/${name} sits below ${LADDER.slice(rank + 1).join(', ')}: it may not import them`,
  severity: 'error',
  from: { path: path(name), pathNot: '\\.spec\\.ts$' },
  to: { path: LADDER.slice(rank + 1).map(path) },
}));

module.exports = {
  forbidden: [
    ...ladderRules,
    {
      name: 'no-circular',
      comment: 'a cycle of imports between files (TypeORM entities name each other in relations, lazily: allowed)',
      severity: 'error',
      from: { path: '^src/', pathNot: ['\\.spec\\.ts$', '\\.entity\\.ts$'] },
      to: { circular: true },
    },
    {
      name: 'every-folder-on-the-ladder',
      comment: 'a new folder of src/ takes its place in LADDER above',
      severity: 'error',
      from: { path: '^src/', pathNot: [...LADDER.map(path), '\\.spec\\.ts$'] },
      to: { path: '^src/' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
  },
};
