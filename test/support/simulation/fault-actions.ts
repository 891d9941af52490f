import fc from 'fast-check';
import { count } from './figures';
import { PROVIDERS, type Model, type Provider, type Sim } from './model';

/** Fault settings as PUT /sandbox/faults takes them (without the provider). */
export interface FaultSettings {
  down?: boolean;
  errorRate?: number;
  failAfterSuccess?: number;
  latencyMs?: number;
  dropWebhooks?: number;
  duplicateWebhooks?: number;
  reorderWebhooks?: boolean;
  seed?: number;
  paths?: string[];
}

/** Paths (relative to each mock) a fault may be limited to: one API at a time, as an incident usually is. */
const TARGETS: Record<Provider, string[]> = {
  paypal: ['/v2/checkout/orders', '/v2/payments/authorizations', '/v2/payments/captures', '/v1/payments/payouts'],
  bank: ['/v1/returns', '/v1/transfers'],
  wechat: ['/v3/wallet-transfers'],
};

/** Settings that make the provider's API fail (and so may hold deadlines and settlements back). */
function fails(settings: FaultSettings): boolean {
  return Boolean(settings.down || settings.errorRate || settings.failAfterSuccess);
}

export function faultKind(settings: FaultSettings): string {
  const kinds = Object.keys(settings).filter((k) => k !== 'seed' && k !== 'paths');
  return `${kinds.join('+')}${settings.paths ? ` on ${settings.paths.join(',')}` : ''}`;
}

export const faultSettingsArb = (provider: Provider): fc.Arbitrary<FaultSettings> =>
  fc
    .tuple(
      fc.oneof(
        fc.constant<FaultSettings>({ down: true }),
        fc.record<FaultSettings>({ errorRate: fc.constantFrom(0.2, 0.5), seed: fc.nat(1000) }),
        fc.record<FaultSettings>({ failAfterSuccess: fc.constantFrom(0.3, 0.7), seed: fc.nat(1000) }),
        fc.record<FaultSettings>({ latencyMs: fc.constantFrom(300, 1500) }),
        fc.record<FaultSettings>({ dropWebhooks: fc.constantFrom(0.5, 1) }),
        fc.record<FaultSettings>({ duplicateWebhooks: fc.constant(1) }),
        fc.record<FaultSettings>({ reorderWebhooks: fc.constant(true) }),
      ),
      fc.option(fc.constantFrom(...TARGETS[provider]), { freq: 2 }),
    )
    .map(([settings, path]) => (path ? { ...settings, paths: [path] } : settings));

async function putFaults(sim: Sim, provider: Provider, settings: FaultSettings): Promise<number> {
  const response = await sim.api('PUT', '/sandbox/faults', { body: { provider, ...settings } });
  if (response.status !== 200) throw new Error(`faults for ${provider}: ${response.status} ${response.text}`);
  return response.status;
}

function remember(model: Model, provider: Provider, failing: boolean): void {
  if (model.failing.has(provider) && !failing) model.failingClearedAt.set(provider, Date.now());
  if (failing) model.failing.add(provider);
  else model.failing.delete(provider);
}

/** A provider starts misbehaving (its settings replace any it had). */
export async function injectFault(sim: Sim, model: Model, params: { provider: Provider; settings: FaultSettings }): Promise<string> {
  await putFaults(sim, params.provider, params.settings);
  remember(model, params.provider, fails(params.settings));
  count(sim.figures.faults, `${params.provider}: ${faultKind(params.settings)}`);
  return 'set';
}

export async function clearFault(sim: Sim, model: Model, params: { provider: Provider }): Promise<string> {
  await putFaults(sim, params.provider, {});
  remember(model, params.provider, false);
  return 'cleared';
}

export async function clearAllFaults(sim: Sim, model: Model): Promise<void> {
  for (const provider of PROVIDERS) await clearFault(sim, model, { provider });
}
