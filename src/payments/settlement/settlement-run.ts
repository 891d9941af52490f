import type { TradesConfig } from '../../config';
import type { OutboxMessage } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import type { TradeSettlementRepository } from '../../trades/trade-settlement.repository';
import { watchJobId } from '../../queues/job-ids';
import { watchPoll } from '../../queues/retry-policies';
import type { FundingRecord } from '../funding/funding.repository';
import { NotYet } from '../funding/provider-steps';
import { StepName, STEPS } from './settlement-plan';
import type { EntityManager } from 'typeorm';
import type { SettlementRepository, StepIds } from './settlement.repository';

type Begun = NonNullable<Awaited<ReturnType<SettlementRepository['begin']>>>;

/** A step begun ahead; `begun` null when the claim had lapsed by then (nothing was begun). */
interface BegunAhead {
  step: StepName;
  attempt: number;
  begun: Begun | null;
}

/** Another run holds the trade's settlement claim: this job tries again later (it is not a failure). */
export class SettlementBusy extends Error {
  constructor(tradeId: string) {
    super(`the settlement of trade ${tradeId} is being run by another worker`);
    this.name = 'SettlementBusy';
  }
}

/**
 * The run's first step found the funding record changed since the run read it (another run settled meanwhile, or
 * took the claim): nothing was written, and the run starts again from a fresh read.
 */
export class SettlementMoved extends Error {
  constructor(tradeId: string) {
    super(`the settlement of trade ${tradeId} moved on since it was read`);
    this.name = 'SettlementMoved';
  }
}

/** The claim of a run was taken over (it outlived its lease): it stops before its next provider call. */
export class SettlementClaimLost extends Error {
  constructor(tradeId: string) {
    super(`the settlement claim of trade ${tradeId} lapsed`);
    this.name = 'SettlementClaimLost';
  }
}

/** What is kept of a step's failure in the journal: names and codes, never a message that could quote a person's data. */
export function stepErrorText(error: unknown): string {
  if (error instanceof NotYet) return error.message;
  const e = error as { name?: string; status?: number; errorName?: string; issue?: string | null; driverError?: { code?: string } };
  if (e?.errorName) return `${e.errorName}${e.issue ? ` ${e.issue}` : ''} (${e.status ?? '?'})`;
  if (e?.driverError) return `database error ${e.driverError.code ?? ''}`.trim();
  return e?.name ?? 'error';
}

/**
 * When a step's finish is journaled: at once (`now`); by the call's own recording transaction (`recorded`, the
 * capture: its id and its finish commit together); or by the transaction that ends the trade (`at_end`, the plan's
 * last step: its finish commits with the transition its result causes). A worker that dies before the finish leaves
 * the step running, as it always could between the call and its finish: the next run begins it again as a retry.
 */
export type StepFinish = 'now' | 'recorded' | 'at_end';

/** A step done whose finish waits for the transaction that ends the trade. */
export interface UnfinishedStep {
  step: StepName;
  attempt: number;
  providerRef: string | null;
  ids: StepIds | null;
}

/**
 * What a step's provider call is given: whether an earlier try may have done its work, the funding record as the
 * step began (under the claim), and where to note the provider ids it learns (recorded with the step's end).
 */
export interface StepCall {
  retried: boolean;
  funding: FundingRecord;
  record(ids: StepIds): void;
}

/**
 * One settlement run of one trade, holding its claim: each provider step is journaled (begun, then done, waiting
 * or failing), the claim is renewed before it, and a step that has waited or failed past its bound flags the trade.
 * A run made from a read (`version`, the funding record's) takes its claim with its first step's begin, only if the
 * record is still as read; one made by `claim` holds it from the start.
 */
export class SettlementRun {
  /** The claim was given up: by the transaction that completed the trade (set once it committed), or with a step's stall. */
  released = false;
  /** The last step done, its finish left to the transaction that ends the trade (`at_end`). */
  unfinished: UnfinishedStep | null = null;
  /** The funding record as the last step began (or as the claim was taken). */
  funding: FundingRecord | null;
  /** The next step, begun in the transaction that recorded the step before it (`beginInside`), once that committed. */
  private begunAhead: BegunAhead | null = null;
  /** The same while that transaction has not committed yet. */
  private pendingAhead: BegunAhead | null = null;

  constructor(
    readonly tradeId: string,
    readonly token: string,
    private readonly journal: SettlementRepository,
    private readonly trades: TradeSettlementRepository,
    private readonly config: TradesConfig,
    /** The funding record's version as the run read it, until the claim is taken; null once it is held. */
    private version: string | null,
    funding: FundingRecord | null = null,
  ) {
    this.funding = funding;
  }

  get claimed(): boolean {
    return this.version === null;
  }

  /** Takes the claim with no step to begin, if the run does not hold it yet (the funding record still as read). */
  async claim(): Promise<void> {
    if (this.claimed) return;
    const funding = await this.journal.claim(this.tradeId, this.token, this.config.settlementClaimLeaseMs, this.version);
    if (!funding) throw new SettlementMoved(this.tradeId);
    this.version = null;
    this.funding = funding;
  }

  /**
   * Begins `step` in `manager`'s transaction, the one that records the step before it (a `recorded` finish): the next
   * step's begin commits with that record instead of on its own. Taken by the next `step` call, once the transaction
   * committed (`call` returned); dropped if it did not.
   */
  async beginInside(manager: EntityManager, step: StepName, attempt: number): Promise<void> {
    this.pendingAhead = { step, attempt, begun: await this.begin(manager, step, attempt) };
  }

  private begin(manager: EntityManager | undefined, step: StepName, attempt: number): Promise<Begun | null> {
    return this.journal.begin(
      manager,
      this.tradeId,
      this.token,
      this.config.settlementClaimLeaseMs,
      this.version,
      step,
      attempt,
      STEPS[step].requestId(this.tradeId, attempt),
      this.config.settlementStepFlagAfterMs,
    );
  }

  /** Runs one provider step; `call` is told whether an earlier try of the step may have done its work. */
  async step<T>(step: StepName, attempt: number, call: (context: StepCall) => Promise<T>, finish: StepFinish = 'now'): Promise<T> {
    const ahead = this.begunAhead;
    this.begunAhead = null;
    const begun = ahead && ahead.step === step && ahead.attempt === attempt ? ahead.begun : await this.begin(undefined, step, attempt);
    if (!begun) throw this.claimed ? new SettlementClaimLost(this.tradeId) : new SettlementMoved(this.tradeId);
    this.version = null;
    this.funding = begun.funding;
    let ids: StepIds | null = null;
    let result: T;
    try {
      this.pendingAhead = null;
      result = await call({ retried: begun.retried, funding: begun.funding, record: (learned) => (ids = learned) });
      // The call's transaction committed: a step it began ahead is begun.
      this.begunAhead = this.pendingAhead;
      this.pendingAhead = null;
    } catch (error) {
      this.pendingAhead = null;
      // The run stops here: the claim is given up in the stall's own statement, so the next run finds it free.
      const overdue = await this.journal.stallAndRelease(
        this.tradeId,
        this.token,
        step,
        attempt,
        error instanceof NotYet ? 'waiting' : 'failing',
        stepErrorText(error),
        ids,
      );
      this.released = true;
      // Waiting or failing past the bound: operators are told, and the run goes on being retried.
      if (overdue.overdue) await this.trades.flagSettlementFailing(this.tradeId);
      throw error;
    }
    if (finish === 'now') await this.journal.finish(undefined, this.tradeId, step, attempt, providerRef(result), ids);
    if (finish === 'at_end') this.unfinished = { step, attempt, providerRef: providerRef(result), ids };
    return result;
  }
}

/** The provider's id of what a step did, when its result names one. */
function providerRef(result: unknown): string | null {
  if (typeof result === 'string') return result;
  const r = result as { batchId?: string; returnId?: string; captureId?: string | null } | null;
  return r?.batchId ?? r?.returnId ?? r?.captureId ?? null;
}

/** The job that polls a watched outcome until it is final: from the poll interval, doubling up to the watch's cap. */
export function watchMessage(
  tradeId: string,
  step: 'watch_payout' | 'watch_bank_return',
  attempt: number,
  config: TradesConfig,
): OutboxMessage {
  const windowMs = step === 'watch_payout' ? config.payoutWatchFlagAfterMs : config.bankReturnWatchMs;
  return {
    queue: QUEUES.settlement,
    jobName: JOBS.settlement.settleTrade,
    jobId: watchJobId(tradeId, step, attempt),
    payload: { tradeId, watch: true },
    retry: watchPoll(windowMs, config),
  };
}
