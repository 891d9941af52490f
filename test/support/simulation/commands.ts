import fc from 'fast-check';
import { count } from './figures';
import { clearFault, faultSettingsArb, injectFault } from './fault-actions';
import { assertNoNew, stepViolations } from './invariants';
import { isSettling, PROVIDERS, type Model, type Sim } from './model';
import * as act from './trade-actions';
import { refresh } from './world';

/** Trades a sequence opens at most: enough to interleave, few enough that each gets somewhere. */
const MAX_TRADES = 8;

type Action<P> = (sim: Sim, model: Model, params: P) => Promise<string>;

/**
 * One step as a fast-check command: `applies` reads the model (so a shrunk sequence skips what no longer
 * applies), `run` acts through HTTP, reads the trades back and checks every step invariant.
 */
class Step<P> implements fc.AsyncCommand<Model, Sim> {
  constructor(
    private readonly name: string,
    private readonly params: P,
    private readonly applies: (model: Model) => boolean,
    private readonly action: Action<P>,
  ) {}

  check(model: Readonly<Model>): boolean {
    return this.applies(model as Model);
  }

  async run(model: Model, sim: Sim): Promise<void> {
    sim.serverErrors = [];
    const result = await this.action(sim, model, this.params);
    sim.steps.push(`${this.toString()} → ${result}`);
    if (process.env.SIM_VERBOSE) console.log(`[${sim.figures.sequences}] ${sim.steps[sim.steps.length - 1]}`);
    sim.figures.steps += 1;
    count(sim.figures.actions, this.name);
    await refresh(sim, model);
    assertNoNew(sim, model, await stepViolations(sim, model), `after ${this.toString()}`);
  }

  toString(): string {
    return `${this.name}(${JSON.stringify(this.params)})`;
  }
}

const step =
  <P>(name: string, applies: (model: Model) => boolean, action: Action<P>) =>
  (params: P) =>
    new Step(name, params, applies, action);

const some = (where: (t: Model['trades'][number]) => boolean) => (m: Model) => m.trades.some(where);
const pick = fc.nat(50);
const party = fc.constantFrom<'traveler' | 'counterparty'>('traveler', 'counterparty');

/** The opening of a trade, alone: every sequence begins with a few, so its other steps have trades to act on. */
export function openArbitrary(): fc.Arbitrary<fc.AsyncCommand<Model, Sim>> {
  return fc
    .record({
      method: fc.constantFrom<'paypal' | 'bank_transfer'>('paypal', 'bank_transfer'),
      amountCny: fc.constantFrom('1000.00', '500.00', '250.00'),
      via: fc.constantFrom<'accept' | 'take'>('accept', 'take'),
      // A quarter of the counterparties are paid at the receiver the mock leaves unclaimed, then returns.
      unclaimedPayout: fc.constantFrom(false, false, false, true),
      startFunding: fc.boolean(),
    })
    .map(step('open', (m) => m.trades.length < MAX_TRADES, act.open));
}

/** Every action with its arbitrary; weights make trades move forward more often than they are disturbed. */
export function commandArbitraries(): fc.Arbitrary<fc.AsyncCommand<Model, Sim>>[] {
  const weighted = <T>(weight: number, arb: fc.Arbitrary<T>) => Array.from({ length: weight }, () => arb);
  const open = openArbitrary();
  const fund = fc
    .record({ pick, kind: fc.constantFrom<act.FundKind>('exact', 'exact', 'exact', 'under', 'over'), late: fc.constant(false) })
    .map(
      step(
        'fund',
        some((t) => t.state === 'awaiting_funding'),
        act.fund,
      ),
    );
  const fundLate = fc
    .record({ pick, kind: fc.constantFrom<act.FundKind>('exact', 'over'), late: fc.constant(true) })
    .map(step('fund', some(act.payableLate), act.fund));
  const rmb = fc
    .record({ pick, kind: fc.constantFrom<act.RmbKind>('right', 'right', 'right', 'wrong_amount', 'never_sent', 'unreported', 'reused') })
    .map(
      step(
        'sendRmb',
        some((t) => t.state === 'funded'),
        act.sendRmb,
      ),
    );
  const confirm = fc.record({ pick, twice: fc.boolean() }).map(
    step(
      'confirmReceipt',
      some((t) => t.state === 'funded' || t.state === 'payout_sent'),
      act.confirmReceipt,
    ),
  );
  const cancel = fc.record({ pick, by: party, twice: fc.boolean() }).map(
    step(
      'cancel',
      some((t) => t.state === 'awaiting_funding'),
      act.cancel,
    ),
  );
  const dispute = fc.record({ pick, by: party }).map(
    step(
      'dispute',
      some((t) => t.state === 'funded' || t.state === 'payout_sent'),
      act.dispute,
    ),
  );
  const resolution = fc.oneof(
    fc.constant<act.Resolution>({ outcome: 'release' }),
    fc.constant<act.Resolution>({ outcome: 'refund' }),
    fc.integer({ min: 1, max: 9 }).map<act.Resolution>((travelerTenths) => ({ outcome: 'split', travelerTenths })),
  );
  const resolve = fc.record({ pick, resolution }).map(
    step(
      'resolve',
      some((t) => t.state === 'disputed'),
      act.resolve,
    ),
  );
  const retry = fc.record({ pick }).map(
    step(
      'retrySettlement',
      some((t) => t.settlementFailing || isSettling(t.state)),
      act.retrySettlement,
    ),
  );
  const close = fc.record({ pick }).map(
    step(
      'closeBankAccount',
      some((t) => t.method === 'bank_transfer'),
      act.closeAccount,
    ),
  );
  const unknown = fc
    .record({ amountUsd: fc.constantFrom('25.00', '138.12') })
    .map(step('payUnknownReference', () => true, act.payUnknownReference));
  const wait = fc.record({ ms: fc.constantFrom(500, 1500, 4000, 7000) }).map(step('wait', () => true, act.wait));
  const provider = fc.constantFrom(...PROVIDERS);
  const fault = provider
    .chain((p) => faultSettingsArb(p).map((settings) => ({ provider: p, settings })))
    .map(step('fault', () => true, injectFault));
  const clear = fc.record({ provider }).map(step('clearFault', (m) => m.failing.size > 0, clearFault));
  return [
    ...weighted(4, open),
    ...weighted(6, fund),
    fundLate,
    ...weighted(5, rmb),
    ...weighted(2, confirm),
    cancel,
    ...weighted(2, dispute),
    ...weighted(2, resolve),
    retry,
    close,
    unknown,
    ...weighted(2, wait),
    ...weighted(2, fault),
    clear,
  ];
}
