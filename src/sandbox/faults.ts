import { createHash } from 'node:crypto';

export const FAULT_PROVIDERS = ['paypal', 'bank', 'wechat', 'rates'] as const;
export type FaultProvider = (typeof FAULT_PROVIDERS)[number];

/** What a provider mock should do wrong. Absent fields mean "behave". Rates are probabilities 0..1. */
export interface FaultSettings {
  latencyMs?: number;
  errorRate?: number;
  down?: boolean;
  /** The provider does the work, then the call fails: the caller must find out by asking again. */
  failAfterSuccess?: number;
  duplicateWebhooks?: number;
  dropWebhooks?: number;
  reorderWebhooks?: boolean;
  seed?: number;
  /** Only calls to paths starting with one of these (relative to the mock, e.g. `/v1/payments/payouts`) misbehave. */
  paths?: string[];
}

export type FaultDecision = { kind: 'down' } | { kind: 'error' } | { kind: 'ok'; latencyMs: number; failAfter: boolean };

/**
 * A draw in [0, 1) from the seed and the call number alone, so a run of calls fails the same way again
 * under the same seed, in any process. Probabilities, not money.
 */
export function draw(seed: number, call: bigint, purpose: string): number {
  const digest = createHash('sha256').update(`${seed}:${call}:${purpose}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** Decides what the call numbered `call` (to `path`, when the mock names it) under these settings does. */
export function decide(settings: FaultSettings, call: bigint, path?: string): FaultDecision {
  if (settings.paths?.length && !(path !== undefined && settings.paths.some((prefix) => path.startsWith(prefix)))) {
    return { kind: 'ok', latencyMs: 0, failAfter: false };
  }
  if (settings.down) return { kind: 'down' };
  const seed = settings.seed ?? 0;
  if (settings.errorRate && draw(seed, call, 'error') < settings.errorRate) return { kind: 'error' };
  const failAfter = settings.failAfterSuccess ? draw(seed, call, 'fail-after') < settings.failAfterSuccess : false;
  return { kind: 'ok', latencyMs: Math.min(settings.latencyMs ?? 0, 30000), failAfter };
}

/**
 * The webhook faults for one event: the delay of each copy to queue. None when the event is dropped, two when
 * it is duplicated, each with a random delay of up to 2 s when events are reordered.
 */
export function webhookCopies(settings: FaultSettings, eventId: string): number[] {
  const roll = (purpose: string) => draw(settings.seed ?? 0, BigInt(Date.now()), `${purpose}:${eventId}`);
  if (settings.dropWebhooks && roll('drop') < settings.dropWebhooks) return [];
  const copies = settings.duplicateWebhooks && roll('duplicate') < settings.duplicateWebhooks ? 2 : 1;
  return Array.from({ length: copies }, (_, copy) => (settings.reorderWebhooks ? Math.floor(roll(`reorder:${copy}`) * 2000) : 0));
}
