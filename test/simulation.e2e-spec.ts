import fc from 'fast-check';
import { Client } from 'pg';
import { createOperator } from './support/factories';
import { client } from './support/http';
import { setReference } from './support/market';
import { startTestApp, TestApp } from './support/test-app';
import { commandArbitraries, openArbitrary } from './support/simulation/commands';
import { newFigures, summary } from './support/simulation/figures';
import { assertNoNew, stepViolations } from './support/simulation/invariants';
import { emptyModel, type Model, type Sim } from './support/simulation/model';
import { readSettings, SIMULATION_ENV, SWEEP_MS } from './support/simulation/settings';
import { settle } from './support/simulation/settle';
import { RATE } from './support/simulation/world';

const settings = readSettings();
// A sequence of up to 30 steps and its settling take under a minute, more under latency faults.
const SEQUENCE_BUDGET_MS = 120000;
const budgetMs = settings.minutes ? settings.minutes * 60000 : settings.runs * SEQUENCE_BUDGET_MS;

/**
 * A model-based simulation: random sequences of what travelers, counterparties, operators and the providers do
 * (faults included), through HTTP against the whole service with its workers, checking the money invariants
 * after every step and, once faults are cleared, that every trade comes to rest. SIM_SEED (and SIM_PATH, both
 * printed on a failure) replays a sequence.
 */
describe('Simulation of traders, operators and faulty providers (HTTP)', () => {
  let test: TestApp;
  let sim: Sim;
  /** The sequence running now. */
  let inFlight: Promise<void> | undefined;

  beforeAll(async () => {
    console.log(`simulation seed ${settings.seed} (replay with SIM_SEED=${settings.seed})`);
    test = await startTestApp(SIMULATION_ENV);
    const api = client(test.baseUrl);
    const db = new Client({ connectionString: test.databaseUrl });
    await db.connect();
    sim = {
      test,
      api,
      db,
      operator: await createOperator(test, api),
      figures: newFigures(settings.seed),
      strict: settings.strict,
      sweepMs: SWEEP_MS,
      serverErrors: [],
      baseline: new Set(),
      closedAccounts: new Set(),
      steps: [],
    };
  }, 60000);

  afterAll(async () => {
    // fast-check's time limit leaves the sequence it cut off running: it ends before the service does.
    await Promise.race([inFlight?.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, SEQUENCE_BUDGET_MS).unref())]);
    if (sim) console.log(summary(sim.figures));
    await sim?.db.end();
    await test?.close();
  }, SEQUENCE_BUDGET_MS + 60000);

  /** A sequence starts from whatever the earlier ones left: it is blamed only for violations that are new. */
  async function beginSequence(): Promise<Model> {
    sim.figures.sequences += 1;
    sim.steps = [];
    // The reference is recorded again: a long run outlives its staleness.
    await setReference(test, RATE);
    sim.baseline = new Set([...sim.baseline, ...(await stepViolations(sim, emptyModel()))]);
    return emptyModel();
  }

  async function endSequence(model: Model): Promise<void> {
    const violations = await settle(sim, model);
    assertNoNew(sim, model, violations, 'once the trades came to rest');
  }

  /** One sequence: its steps, each checked, then its trades brought to rest and checked again. */
  async function runSequence(commands: Iterable<fc.AsyncCommand<Model, Sim>>): Promise<void> {
    const model = await beginSequence();
    try {
      await fc.asyncModelRun(() => ({ model, real: sim }), commands);
    } catch (error) {
      // The trades still come to rest, and what they leave is not blamed on the next sequence.
      for (const v of await settle(sim, model).catch(() => [])) sim.baseline.add(v);
      return failed(error);
    }
    await endSequence(model).catch(failed);
  }

  /**
   * Records a failed sequence with its steps as run, and fails the property (fast-check then shrinks it and
   * prints the shortest), unless SIM_KEEP_GOING asks a long run to go on counting.
   */
  function failed(error: unknown): void {
    const message = (error as Error).message;
    sim.figures.violations.push({ seed: settings.seed, sequence: sim.figures.sequences, detail: [message] });
    console.log(`sequence ${sim.figures.sequences} failed: ${message}\nsteps:\n  ${sim.steps.join('\n  ')}`);
    if (!settings.keepGoing) throw error;
  }

  it(
    'keeps the books, the providers and the deadlines right whatever the parties and the providers do',
    async () => {
      const property = fc.asyncProperty(
        fc.array(openArbitrary(), { minLength: 1, maxLength: 3 }),
        fc.commands(commandArbitraries(), { maxCommands: settings.maxSteps, size: 'max', replayPath: settings.path }),
        (opens, commands) => (inFlight = runSequence([...opens, ...commands])),
      );
      await fc.assert(property, {
        seed: settings.seed,
        path: settings.path,
        numRuns: settings.runs,
        interruptAfterTimeLimit: budgetMs,
        verbose: 1,
      });
      // A long run that went on after failures still fails.
      expect(sim.figures.violations).toEqual([]);
    },
    budgetMs + 3 * SEQUENCE_BUDGET_MS,
  );
});
