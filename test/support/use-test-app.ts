import { Client } from 'pg';
import { LedgerCheckService } from '../../src/trades/ledger-check.service';
import { createOperator, TestUser } from './factories';
import { client, Api } from './http';
import { setReference } from './market';
import type { Settings } from './settings';
import { startTestApp, TestApp } from './test-app';

export interface TestSuite {
  test: TestApp;
  api: Api;
  /** A client of the suite's own database, for what no API shows (the ledger's accounts, the timeline's clock). */
  db: Client;
  /** An operator, when asked for. */
  operator: TestUser;
  /** Asserts that the books hold their invariants (the ledger check finds no violation). */
  expectClean(): Promise<void>;
}

export interface TestSuiteOptions {
  /** The reference rate, recorded before the tests. */
  reference?: string;
  /** Creates an operator. */
  operator?: boolean;
  /** After each test, whatever it left in flight, the books hold their invariants. */
  checkBooks?: boolean;
}

/**
 * Starts the service for the enclosing `describe` (before its other `beforeAll`s) and closes it after its tests:
 * the app with `settings`, an HTTP client, a database client, the reference rate when one is given, and an
 * operator when asked for.
 * The handles it returns can be taken apart at once (`const { test, api, db } = useTestApp(…)`): each stands for
 * the started one, and throws if used before the suite's first `beforeAll` ran.
 */
export function useTestApp(settings: Settings = {}, options: TestSuiteOptions = {}): TestSuite {
  let started: { test: TestApp; api: Api; db: Client; operator?: TestUser } | undefined;
  beforeAll(async () => {
    const test = await startTestApp(settings);
    const api = client(test.baseUrl);
    const db = new Client({ connectionString: test.databaseUrl });
    started = { test, api, db };
    await db.connect();
    if (options.reference) await setReference(test, options.reference);
    if (options.operator) started.operator = await createOperator(test, api);
  });
  afterAll(async () => {
    await started?.db.end();
    await started?.test.close();
  });

  const now = <K extends keyof NonNullable<typeof started>>(name: K) => {
    const value = started?.[name];
    if (value === undefined) throw new Error(`useTestApp: \`${name}\` is used before the suite's app started (or was not asked for)`);
    return value as NonNullable<NonNullable<typeof started>[K]>;
  };
  const test = standIn(() => now('test'));
  const expectClean = async () => expect(await test.app.get(LedgerCheckService).check()).toEqual({ ok: true, violations: [] });
  if (options.checkBooks) afterEach(() => expectClean());
  return {
    test,
    api: ((...args: Parameters<Api>) => now('api')(...args)) as Api,
    db: standIn(() => now('db')),
    operator: standIn(() => now('operator')),
    expectClean,
  };
}

/** An object that forwards everything to `target()`, the started one. */
function standIn<T extends object>(target: () => T): T {
  return new Proxy({} as T, {
    get(_, key) {
      const value = Reflect.get(target(), key) as unknown;
      return typeof value === 'function' ? value.bind(target()) : value;
    },
    set: (_, key, value) => Reflect.set(target(), key, value),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
  });
}
