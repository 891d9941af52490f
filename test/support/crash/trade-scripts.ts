import { randomBytes } from 'node:crypto';
import type { ApiResponse, RequestOptions } from '../http';
import { client } from '../http';

/** The paths a trade of the crash test takes, all through HTTP as its parties and an operator would. */
export const SCRIPTS = [
  'paypal_verified',
  'bank_verified',
  'paypal_confirmed',
  'paypal_dispute_refund',
  'bank_dispute_refund',
  'paypal_split',
  'bank_split',
  'paypal_payout_deadline',
  'bank_overpaid',
  'transfer_reuse',
  'cancelled',
] as const;
export type Script = (typeof SCRIPTS)[number];

export interface Party {
  id: string;
  token: string;
  wechatId: string;
  label: string;
}

export interface DrivenTrade {
  id: string;
  script: Script;
  /** Where the script stopped driving (the end of its script, or a wait that ran out). */
  reached: string;
}

/** A seeded generator (mulberry32): a seed replays the same scripts, amounts and kill moments. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An answer other than the one the script expected. */
export class Refused extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'Refused';
  }
}

/** A call whose connection broke after it was sent: it may or may not have taken effect (the API was killed). */
export class Interrupted extends Error {
  constructor(method: string, path: string) {
    super(`${method} ${path} was interrupted`);
    this.name = 'Interrupted';
  }
}

/**
 * The API may be down for a moment (when the test kills it too): a call that could not connect is tried again, for
 * a bounded time, and so is a read; a write whose connection broke after it was sent is not (its effect is unknown),
 * it throws Interrupted. Anything the API answered is returned as it is.
 */
export function patientClient(baseUrl: string, patienceMs = 60000) {
  const raw = client(baseUrl);
  return async function call<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const deadline = Date.now() + patienceMs;
    for (;;) {
      try {
        return await raw<T>(method, path, options);
      } catch (error) {
        const refused = (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
        if (!refused && method !== 'GET') throw new Interrupted(method, path);
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  };
}
export type PatientApi = ReturnType<typeof patientClient>;

/** What the scripts found wrong on the way (an answer that contradicts the API's contract). */
export interface Observations {
  anomalies: string[];
  /** WeChat transfer ids already claimed by a trade: reporting one again must be refused. */
  claimedTransfers: string[];
  reuseRefused: number;
  serverErrors: number;
  /** Scripts cut short by a write the API's death interrupted; their trades are left to the recovery. */
  interrupted: number;
  abandoned: string[];
  /** Parties who acted after their trade's payout window had closed (refused 409, as the contract says). */
  late: number;
}

export class TradeDriver {
  constructor(
    private readonly api: PatientApi,
    private readonly operatorToken: string,
    private readonly observed: Observations,
    private readonly waitMs: number,
  ) {}

  private async must(expected: number, method: string, path: string, options: RequestOptions = {}): Promise<any> {
    const response = await this.api(method, path, options);
    if (response.status >= 500) this.observed.serverErrors += 1;
    if (response.status !== expected) {
      throw new Refused(
        `${method} ${path} answered ${response.status}: ${response.text.slice(0, 300)}`,
        response.status,
        response.body?.code,
      );
    }
    return response.body;
  }

  private async state(id: string, token: string): Promise<string> {
    const response = await this.api('GET', `/v1/trades/${id}`, { token });
    return response.status === 200 ? response.body.state : `http_${response.status}`;
  }

  /** Waits (bounded) for the trade to leave `from`; returns the state it found. */
  private async leave(id: string, token: string, from: string[]): Promise<string> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const state = await this.state(id, token);
      if (!from.includes(state) || Date.now() > deadline) return state;
      await sleep(250);
    }
  }

  /** Runs one trade's script; never throws for a slow service (the final checks judge where it ended). */
  async run(script: Script, traveler: Party, counterparty: Party, amountCny: string): Promise<DrivenTrade> {
    const bank = script.startsWith('bank_');
    const request = await this.must(201, 'POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny, price: { type: 'fixed', rate: '7.2400' }, paymentMethod: bank ? 'bank_transfer' : 'paypal' },
    });
    const trade = await this.must(201, 'POST', `/v1/requests/${request.id}/accept`, { token: counterparty.token, body: {} });
    try {
      return await this.drive(script, trade, traveler, counterparty);
    } catch (error) {
      if (!(error instanceof Interrupted)) throw error;
      this.observed.interrupted += 1;
      this.observed.abandoned.push(trade.id);
      return { id: trade.id, script, reached: error.message };
    }
  }

  /** Runs the rest of a trade's script from its accept (`trade` is the accept's answer). */
  async drive(script: Script, trade: any, traveler: Party, counterparty: Party): Promise<DrivenTrade> {
    const bank = script.startsWith('bank_');
    const done = (reached: string): DrivenTrade => ({ id: trade.id, script, reached });
    if (script === 'cancelled') {
      await this.must(200, 'POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token });
      return done('cancelled');
    }

    const funding = await this.must(201, 'POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    if (bank) {
      const extra = script === 'bank_overpaid' ? 1234n : 0n;
      const amountUsd = formatCents(parseCents(funding.amountUsd) + extra);
      await this.must(202, 'POST', '/sandbox/bank/incoming', {
        body: { reference: funding.reference, amountUsd, senderAccount: `DE${randomBytes(9).toString('hex').slice(0, 18)}` },
      });
    } else {
      await this.must(200, 'POST', `/sandbox/paypal/orders/${funding.orderId}/approve`, {
        body: { payerEmail: `${traveler.label}-payer@example.com` },
      });
    }
    const funded = await this.leave(trade.id, traveler.token, ['awaiting_funding']);
    if (funded !== 'funded') return done(`funding: ${funded}`);
    try {
      return await this.act(script, trade, traveler, counterparty, done);
    } catch (error) {
      // The payout window closed before the party acted (a slow machine): the trade moved on by its deadline.
      if (!(error instanceof Refused) || error.status !== 409 || error.code !== 'invalid_state_transition') throw error;
      this.observed.late += 1;
      return done(`late: ${await this.state(trade.id, traveler.token)}`);
    }
  }

  private async act(
    script: Script,
    trade: any,
    traveler: Party,
    counterparty: Party,
    done: (reached: string) => DrivenTrade,
  ): Promise<DrivenTrade> {
    switch (script) {
      case 'paypal_payout_deadline':
        return done('funded, RMB never sent');
      case 'paypal_confirmed':
        await this.must(200, 'POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
        return done('receipt confirmed');
      case 'paypal_dispute_refund':
      case 'bank_dispute_refund':
      case 'paypal_split':
      case 'bank_split': {
        const dispute = await this.must(201, 'POST', `/v1/trades/${trade.id}/disputes`, {
          token: traveler.token,
          body: { reason: 'rmb_not_received', statement: 'Nothing arrived in my WeChat wallet.' },
        });
        const split = script.endsWith('_split');
        const usd = parseCents(trade.amountUsd);
        const travelerPart = usd / 3n;
        await this.must(200, 'POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
          token: this.operatorToken,
          body: split
            ? {
                outcome: 'split',
                travelerUsd: formatCents(travelerPart),
                counterpartyUsd: formatCents(usd - travelerPart),
                note: 'Part arrived.',
              }
            : { outcome: 'refund', note: 'No transfer found.' },
        });
        return done(split ? 'split decided' : 'refund decided');
      }
      default: {
        // The RMB leg: the counterparty pays at WeChat, then reports the transfer for the platform to verify.
        const { transferId } = await this.must(201, 'POST', '/sandbox/wechat/transfers', {
          body: { fromWechatId: counterparty.wechatId, toWechatId: traveler.wechatId, amountCny: trade.amountCny },
        });
        if (script === 'transfer_reuse' && this.observed.claimedTransfers.length > 0) {
          const taken = this.observed.claimedTransfers[Math.floor(Math.random() * this.observed.claimedTransfers.length)];
          const reused = await this.api('POST', `/v1/trades/${trade.id}/payout`, {
            token: counterparty.token,
            body: { wechatTransferId: taken },
          });
          if (reused.status === 409) this.observed.reuseRefused += 1;
          else this.observed.anomalies.push(`trade ${trade.id}: a transfer claimed by another trade answered ${reused.status}`);
        }
        await this.must(200, 'POST', `/v1/trades/${trade.id}/payout`, {
          token: counterparty.token,
          body: { wechatTransferId: transferId },
        });
        this.observed.claimedTransfers.push(transferId);
        return done('payout reported');
      }
    }
  }
}

export function parseCents(amount: string): bigint {
  const [whole, decimals = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(decimals.padEnd(2, '0').slice(0, 2));
}

export function formatCents(cents: bigint): string {
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}
