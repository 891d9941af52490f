import { Client } from 'pg';
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
}

/**
 * Starts the service for the enclosing `describe` (before its other `beforeAll`s) and closes it after its tests:
 * the app with `settings`, an HTTP client, a database client, the reference rate when one is given, and an
 * operator when asked for.
 * The returned object is filled in by the time the suite's own `beforeAll`s run.
 */
export function useTestApp(settings: Settings = {}, options: { reference?: string; operator?: boolean } = {}): TestSuite {
  const suite = {} as TestSuite;
  beforeAll(async () => {
    suite.test = await startTestApp(settings);
    suite.api = client(suite.test.baseUrl);
    suite.db = new Client({ connectionString: suite.test.databaseUrl });
    await suite.db.connect();
    if (options.reference) await setReference(suite.test, options.reference);
    if (options.operator) suite.operator = await createOperator(suite.test, suite.api);
  });
  afterAll(async () => {
    await suite.db?.end();
    await suite.test?.close();
  });
  return suite;
}
