import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { AuditRepository } from '../audit/audit.repository';
import type { AuthUser } from '../common/auth/auth-user';
import { formatAmount } from '../common/money';
import { reconciliationConfig } from '../config';
import { OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { reconcileNowJobId } from '../queues/job-ids';
import { RECONCILE_NOW_RETRY } from '../queues/retry-policies';
import { BankAndWechatChecks } from './bank-checks';
import { BankSearch, BankSearchResult } from './bank-search';
import { Finding, MISMATCH, PLATFORM_SUBJECT, TradeCheck, TradeFacts } from './mismatch';
import { isSettling } from '../trades/trade.state-machine';
import { CheckContext, Outcome, PaypalChecks } from './paypal-checks';
import { PayoutSearch, PayoutSearchResult } from './payout-search';
import { PlatformTotals, ReconciliationRepository } from './reconciliation.repository';
import { ReconciliationRunsRepository } from './reconciliation-runs.repository';
import { Transactions } from '../database/transactions';

// A run silent this long is taken as dead, and its slot free; a working run says it is alive far more often.
const RUN_LEASE_MS = 2 * 60 * 1000;
const RUN_HEARTBEAT_MS = 15 * 1000;
// Trades checked at once: each waits on its providers, and a run must not crowd out settlement's calls.
const CONCURRENCY = 4;
const LISTED_MISMATCHES = 1000;

export interface RunSummary {
  runId: number;
  checkedTrades: number;
  inconclusiveTrades: number;
  opened: number;
  resolved: number;
}

/**
 * Compares the books with the providers, incrementally. A run takes the trades changed since the last run's
 * cursor (by `updated_at, id`, up to a batch, only those older than the grace period so a late commit is
 * never skipped), plus every trade still settling, watched for an unfinished provider outcome, or with an open
 * mismatch; searches PayPal for payouts, and the bank for settled incoming transfers, since the last searches;
 * asks each provider about each trade (no transaction is open meanwhile); checks platform totals; then records
 * everything in one transaction.
 */
@Injectable()
export class ReconciliationService {
  private readonly logger = new Logger(ReconciliationService.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly repository: ReconciliationRepository,
    private readonly runs: ReconciliationRunsRepository,
    private readonly paypalChecks: PaypalChecks,
    private readonly bankChecks: BankAndWechatChecks,
    private readonly payoutSearch: PayoutSearch,
    private readonly bankSearch: BankSearch,
    private readonly outbox: OutboxService,
    private readonly audit: AuditRepository,
    @Inject(reconciliationConfig.KEY) private readonly config: ConfigType<typeof reconciliationConfig>,
  ) {}

  /** One run; 'busy' while another holds the running slot (one run at a time, in any process). */
  async run(trigger: 'schedule' | 'operator'): Promise<RunSummary | 'busy'> {
    const runId = await this.runs.startRun(trigger, RUN_LEASE_MS);
    if (runId === null) return 'busy';
    const heartbeat = setInterval(() => {
      this.runs
        .touchRun(runId)
        .catch((error: unknown) => this.logger.warn(`Reconciliation run ${runId}: heartbeat failed: ${String(error)}`));
    }, RUN_HEARTBEAT_MS);
    heartbeat.unref();
    try {
      return await this.runAs(runId);
    } catch (error) {
      await this.runs.failRun(runId, (error as Error).message);
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async runAs(runId: number): Promise<RunSummary> {
    const cursor = await this.runs.cursor();
    const now = Date.now();
    const ctx: CheckContext = { now, graceMs: this.config.graceMs };
    const changed = await this.repository.changedTrades(cursor, this.config.graceMs, this.config.batchSize);
    const rechecked = await this.repository.recheckedTrades(this.config.batchSize);

    // A search that failed leaves its cursor where it was; the run says so and is not clean.
    const searchesFailed: string[] = [];
    const search = await this.searchPayouts(cursor.payoutsSearchedUntil, now, searchesFailed);
    const bankSearch = await this.searchBank(cursor.bankSearchedUntil, now, searchesFailed);
    const extra = new Map<string, string[]>(search?.batchesByTrade ?? []);
    const extraTransfers = new Map<string, string[]>(bankSearch?.transfersByTrade ?? []);
    const ids = [...new Set([...changed.map((t) => t.id), ...rechecked, ...extra.keys(), ...extraTransfers.keys()])];
    for (const { tradeId, batchId, transferId } of await this.repository.openMismatchRecords(ids)) {
      if (batchId) extra.set(tradeId, [...(extra.get(tradeId) ?? []), batchId]);
      if (transferId) extraTransfers.set(tradeId, [...(extraTransfers.get(tradeId) ?? []), transferId]);
    }

    const facts = await this.repository.facts(ids);
    const checks = await mapLimit(facts, CONCURRENCY, (trade) =>
      this.checkTrade(trade, { batchIds: extra.get(trade.id) ?? [], transferIds: extraTransfers.get(trade.id) ?? [] }, ctx),
    );
    const findings: Finding[] = checks.flatMap((check) => check.findings);
    if (search) findings.push(...search.orphans);
    if (bankSearch) findings.push(...bankSearch.orphans);
    const totals = await this.repository.platformTotals();
    findings.push(...platformFindings(totals));

    const conclusive = facts.filter((_, i) => !checks[i].inconclusive).map((t) => t.id);
    const last = changed.at(-1);
    const recorded = await this.runs.record({
      runId,
      findings,
      checkedSubjects: [...conclusive, PLATFORM_SUBJECT, ...(search?.orphanSubjects ?? []), ...(bankSearch?.orphanSubjects ?? [])],
      watch: facts.flatMap((t, i) => (checks[i].watch ? [{ tradeId: t.id, reason: checks[i].watch! }] : [])),
      unwatch: facts.filter((_, i) => !checks[i].watch).map((t) => t.id),
      watchMs: this.config.watchMs,
      cursor: {
        updatedAt: last?.updatedAt ?? cursor.updatedAt,
        tradeId: last?.id ?? cursor.tradeId,
        payoutsSearchedUntil: search?.searchedUntil ?? cursor.payoutsSearchedUntil,
        bankSearchedUntil: bankSearch?.searchedUntil ?? cursor.bankSearchedUntil,
      },
      checkedTrades: facts.length,
      inconclusiveTrades: facts.length - conclusive.length,
      totals: { ...presentTotals(totals), searchesFailed },
    });
    const summary = { runId, checkedTrades: facts.length, inconclusiveTrades: facts.length - conclusive.length, ...recorded };
    this.logger.log(`Reconciliation run ${runId}: ${JSON.stringify(summary)}, ${findings.length} mismatches seen`);
    return summary;
  }

  /** PayPal's payouts since the last search, up to the search delay; null when it is not due or PayPal cannot answer. */
  private searchPayouts(searchedUntil: Date | null, now: number, failed: string[]): Promise<PayoutSearchResult | null> {
    const search = { name: 'paypal_payouts', failure: "PayPal's payout search failed", lagMs: this.config.searchDelayMs } as const;
    return this.searchWindow(search, searchedUntil, now, failed, (from, until) => this.payoutSearch.search(from, until));
  }

  /**
   * The bank's incoming transfers settled since the last search, up to the grace ago (a transfer just settled
   * is still being decided); null when not due or the bank cannot answer.
   */
  private searchBank(searchedUntil: Date | null, now: number, failed: string[]): Promise<BankSearchResult | null> {
    const search = {
      name: 'bank_incoming',
      failure: "The bank's incoming transfers could not be listed",
      lagMs: this.config.graceMs,
    } as const;
    return this.searchWindow(search, searchedUntil, now, failed, (from, until) => this.bankSearch.search(from, until));
  }

  /** A provider search from where the last one stopped (or the lookback) up to `lagMs` ago; a failure is tried again next run. */
  private async searchWindow<T>(
    what: { name: string; failure: string; lagMs: number },
    searchedUntil: Date | null,
    now: number,
    failed: string[],
    search: (from: Date, until: Date) => Promise<T>,
  ): Promise<T | null> {
    const from = searchedUntil ?? new Date(now - this.config.searchLookbackMs);
    const until = new Date(now - what.lagMs);
    if (until <= from) return null;
    try {
      return await search(from, until);
    } catch (error) {
      this.logger.warn(`${what.failure}, tried again next run: ${(error as Error).message}`);
      failed.push(what.name);
      return null;
    }
  }

  private async checkTrade(
    trade: TradeFacts,
    extra: { batchIds: string[]; transferIds: string[] },
    ctx: CheckContext,
  ): Promise<TradeCheck> {
    const out = new Outcome(trade);
    try {
      if (trade.funding?.provider === 'paypal') await this.paypalChecks.checkFunding(trade, out, ctx);
      if (trade.funding?.provider === 'bank_transfer') await this.bankChecks.checkBank(trade, out, extra.transferIds);
      if (trade.funding) await this.paypalChecks.checkPayouts(trade, extra.batchIds, out, ctx);
      await this.bankChecks.checkWechat(trade, out);
    } catch (error) {
      this.logger.warn(`Reconciliation of trade ${trade.id} inconclusive: ${(error as Error).message}`);
      return { findings: [], watch: 'provider unavailable', inconclusive: true };
    }
    if (isSettling(trade.state)) {
      out.watchFor('settling');
      const waitedMs = ctx.now - trade.updatedAt.getTime();
      if (waitedMs > this.config.settlementBoundMs)
        out.add(
          MISMATCH.settlementOverdue,
          `The trade has been ${trade.state} for ${Math.round(waitedMs / 60000)} minutes`,
          { state: trade.state, since: trade.updatedAt.toISOString() },
          null,
        );
    }
    return { findings: out.findings, watch: out.watch, inconclusive: false };
  }

  /** Queues a run now (an operator's request), audited; it waits its turn if a run is under way. */
  async requestRun(operator: AuthUser): Promise<{ queued: true; jobId: string }> {
    const jobId = reconcileNowJobId(randomUUID());
    await this.transactions.run(async (manager) => {
      await this.outbox.write(manager, {
        queue: QUEUES.reconciliation,
        jobName: JOBS.reconciliation.reconcile,
        jobId,
        payload: { trigger: 'operator' },
        retry: RECONCILE_NOW_RETRY,
      });
      await this.audit.record(manager, {
        operatorId: operator.id,
        action: 'reconciliation.run',
        targetType: 'reconciliation',
        targetId: null,
        detail: { jobId },
      });
    });
    return { queued: true, jobId };
  }

  /** The last run and every mismatch still open (API.md's shape, with more fields). */
  async latest() {
    const run = await this.runs.lastRun();
    const open = await this.runs.openMismatches(LISTED_MISMATCHES);
    return {
      runId: run ? Number(run.id) : null,
      ranAt: run?.finished_at.toISOString() ?? null,
      startedAt: run?.started_at.toISOString() ?? null,
      trigger: run?.trigger ?? null,
      checkedTrades: run?.checked_trades ?? 0,
      inconclusiveTrades: run?.inconclusive_trades ?? 0,
      opened: run?.opened ?? 0,
      resolved: run?.resolved ?? 0,
      totals: run?.totals ?? null,
      // Clean only once a run has shown it: every trade answered for, both searches done, nothing open.
      ok:
        run !== null &&
        open.total === 0 &&
        run.inconclusive_trades === 0 &&
        ((run.totals?.searchesFailed as string[] | undefined) ?? []).length === 0,
      openMismatches: open.total,
      mismatches: open.rows.map((m) => ({
        ...(m.trade_id ? { tradeId: m.trade_id } : {}),
        kind: m.kind,
        ledger: m.ledger,
        provider: m.provider,
        detail: m.detail,
        openedAt: m.opened_at.toISOString(),
        lastSeenAt: m.last_seen_at.toISOString(),
      })),
    };
  }
}

function platformFindings(t: PlatformTotals): Finding[] {
  const finding = (kind: Finding['kind'], detail: string, ledger: bigint, source: bigint, sourceName: string): Finding[] =>
    ledger === source
      ? []
      : [
          {
            kind,
            subject: PLATFORM_SUBJECT,
            tradeId: null,
            ledger: { balanceUsd: formatAmount(ledger, 'USD') },
            provider: { [sourceName]: formatAmount(source, 'USD') },
            detail,
          },
        ];
  return [
    ...finding(
      MISMATCH.feeRevenueMismatch,
      'Fee revenue is not the fees of completed and split trades',
      t.feeRevenueLedger,
      t.feeRevenueExpected,
      'feesOfSettledTradesUsd',
    ),
    ...finding(
      MISMATCH.suspenseMismatch,
      "Suspense is not the bank's money held for no trade and not yet returned",
      t.suspenseLedger,
      t.suspenseExpected,
      'unreturnedSuspenseUsd',
    ),
    ...finding(
      MISMATCH.payablesMismatch,
      'Payables are open on trades that owe nothing (not settling, no payout or refund that came back)',
      t.payablesLedger,
      t.payablesOwed,
      'owedByUnfinishedTradesUsd',
    ),
  ];
}

function presentTotals(t: PlatformTotals): Record<string, unknown> {
  const pair = (ledger: bigint, source: bigint) => ({ ledgerUsd: formatAmount(ledger, 'USD'), expectedUsd: formatAmount(source, 'USD') });
  return {
    feeRevenue: pair(t.feeRevenueLedger, t.feeRevenueExpected),
    suspense: pair(t.suspenseLedger, t.suspenseExpected),
    payables: pair(t.payablesLedger, t.payablesOwed),
  };
}

/** Runs `work` over the items, at most `limit` at once, keeping their order. */
async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  });
  await Promise.all(lanes);
  return results;
}
