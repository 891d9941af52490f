import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { AuthUser } from '../../common/auth/auth-user';
import { FieldEncryption, normalizeEmail } from '../../common/crypto/field-encryption';
import { DomainError } from '../../common/errors';
import { HANDLE_CONTEXT } from '../../common/crypto/handle-context';
import { paypalConfig, tradesConfig } from '../../config';
import { OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { TradeTransitionsService } from '../../trades/trade-transitions.service';
import { PAYPAL, PaypalApiError, PaypalPort } from '../providers/paypal/paypal.port';
import { BankFundingService } from './bank-funding.service';
import { FundingPoll } from './funding-poll';
import { FundingRepository } from './funding.repository';
import { checkFundingJobId } from '../../queues/job-ids';
import { fundingPoll } from '../../queues/retry-policies';
import { honorCaptureDelayMs, honorCaptureMessage, NotYet, stepRequestId } from './provider-steps';
import { queuedWhenSet } from '../../queues/sweep-horizon';
import { Transactions } from '../../database/transactions';

type CheckOutcome = 'funded' | 'voided' | 'self_trade' | 'nothing';
type FundingCheckView = Awaited<ReturnType<FundingRepository['checkView']>>;

/** Runs of one check at most while webhooks keep arriving during it; then its job's backoff. */
const MAX_RUNS = 3;

/**
 * The USD into escrow. `POST /v1/trades/:id/funding` makes the PayPal order (outside any transaction: the
 * provider call comes first, then the record); the check-funding job, started then and again by the webhooks
 * (one check for those that arrive before it starts), asks PayPal, authorizes an approved order and moves the
 * trade to `funded`. Whichever comes first does it; the other finds nothing left to do.
 */
@Injectable()
export class FundingService {
  private readonly logger = new Logger(FundingService.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly fundings: FundingRepository,
    private readonly bankFunding: BankFundingService,
    private readonly poll: FundingPoll,
    private readonly tradesService: TradeTransitionsService,
    private readonly outbox: OutboxService,
    @Inject(PAYPAL) private readonly paypal: PaypalPort,
    private readonly encryption: FieldEncryption,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
    @Inject(paypalConfig.KEY) private readonly paypalSettings: ConfigType<typeof paypalConfig>,
  ) {}

  async start(
    caller: AuthUser,
    tradeId: string,
    urls: { returnUrl?: string; cancelUrl?: string },
  ): Promise<{ created: boolean; body: Record<string, unknown> }> {
    const read = await this.fundings.withTrade(tradeId);
    const trade = read?.trade;
    if (!trade || (caller.id !== trade.travelerId && caller.id !== trade.counterpartyId)) throw DomainError.notFound('Trade');
    if (caller.id !== trade.travelerId) throw new DomainError('forbidden', "Only the trade's traveler funds it");
    // An order or reference is live only while the trade waits for it: a cancelled or expired trade's is dead.
    if (trade.state !== 'awaiting_funding')
      throw new DomainError('invalid_state_transition', `The trade is ${trade.state}`, { state: trade.state });
    const existing = read.funding;
    if (existing?.orderId)
      return { created: false, body: { provider: 'paypal', orderId: existing.orderId, approveUrl: existing.approveUrl } };
    if (existing?.bankReference) return { created: false, body: this.bankFunding.view(existing.bankReference, trade.amountUsd) };
    if (trade.paymentMethod === 'bank_transfer') return this.bankFunding.start(trade);
    let order;
    try {
      order = await this.paypal.createOrder({
        amountUsd: trade.amountUsd,
        referenceId: trade.id,
        requestId: stepRequestId(trade.id, 'order'),
        ...urls,
      });
    } catch (error) {
      if (!(error instanceof PaypalApiError)) throw error;
      // PayPal's trouble is not the client's: 503 to try again later; PayPal refusing the order's URLs is the client's: 400.
      if (error.retryable) throw new DomainError('service_unavailable', 'PayPal is not answering; try again shortly');
      throw DomainError.validation([
        { field: 'returnUrl', code: 'refused_by_provider', message: `PayPal refused the order: ${error.issue ?? error.errorName}` },
      ]);
    }
    // The order and its poll in one statement: the poll is what funds the trade if PayPal's webhooks never come.
    const poll = this.outbox.rowForStatement({
      queue: QUEUES.funding,
      jobName: JOBS.funding.checkFunding,
      jobId: checkFundingJobId(trade.id, 'poll'),
      payload: { tradeId: trade.id },
      delayMs: this.config.providerPollEveryMs,
      retry: fundingPoll(this.config.fundingWindowPaypalMs, this.config),
    });
    const { funding, pollOutboxId } = await this.fundings.recordOrder(trade.id, order.orderId, order.approveUrl, poll);
    this.outbox.publishWritten([{ row: poll, id: pollOutboxId }], Date.now());
    return { created: true, body: { provider: 'paypal', orderId: funding.orderId, approveUrl: funding.approveUrl } };
  }

  /**
   * Asks PayPal about a trade's order: approved → authorize it (request id from the trade, so twice is once);
   * authorized → `funded` in one transaction with its ledger hold. A late authorization for a trade that
   * ended meanwhile is voided. Throws NotYet while the buyer has not approved and the trade still waits.
   * A check that found one pending runs again if webhooks were counted while it ran: they found it pending and
   * queued nothing (`ProviderEventsRepository.receive`).
   */
  async check(tradeId: string): Promise<CheckOutcome> {
    for (let run = 1; ; run += 1) {
      // The pending mark and the webhooks' count as this run starts (what it asks PayPal covers them), with the
      // trade's state and the counterparty's PayPal index in the same read.
      const view = await this.fundings.checkView(tradeId);
      const funding = view.funding;
      let outcome: CheckOutcome;
      try {
        outcome = await this.checkOnce(tradeId, view);
      } catch (error) {
        if (!funding?.checkPendingJob || (await this.fundings.finishCheck(tradeId, funding.checkRequests))) throw error;
        if (run >= MAX_RUNS) await this.giveUpMark(tradeId, error);
        continue;
      }
      // Funded: the mark went with it, and nothing a webhook reports can change the trade any more.
      if (!funding?.checkPendingJob || outcome === 'funded') return outcome;
      if (await this.fundings.finishCheck(tradeId, funding.checkRequests)) return outcome;
      if (run >= MAX_RUNS)
        await this.giveUpMark(tradeId, new NotYet(`trade ${tradeId}: webhooks arrived during each of ${MAX_RUNS} checks`));
    }
  }

  /**
   * Webhooks kept coming during every run: this job asks again on its backoff for those counted, and the mark is
   * cleared so that the next webhook queues a check of its own at once instead of waiting for that retry.
   */
  private async giveUpMark(tradeId: string, reason: unknown): Promise<never> {
    await this.fundings.finishCheck(tradeId, null);
    throw reason;
  }

  /**
   * One run. `view` is as read before PayPal is asked: a state that moved on meanwhile is caught by the trade's row
   * lock where it matters (funding, voiding), and a trade never goes back to awaiting funding.
   */
  private async checkOnce(tradeId: string, view: FundingCheckView): Promise<CheckOutcome> {
    const { funding, state } = view;
    if (funding?.provider === 'bank_transfer') return this.bankFunding.check(tradeId, funding);
    if (!funding?.orderId || !state) return 'nothing';
    let order = await this.paypal.getOrder(funding.orderId);
    if (order.status === 'CREATED') {
      if (state !== 'awaiting_funding') return 'nothing';
      throw new NotYet(`order ${order.orderId} is not approved`);
    }
    // The payer's PayPal account is the counterparty's payout account: a self-trade (SPEC.md), found by blind index.
    if (state === 'awaiting_funding' && order.payerEmail && this.payerIsCounterparty(view.counterpartyPaypalIndex, order.payerEmail)) {
      if (order.authorizationId) await this.voidLate(tradeId, order.authorizationId);
      // Recorded for operators as a refusal of the counterparty's, with the cancellation.
      await this.transactions.run((manager) => this.tradesService.cancelAsSelfTrade(manager, tradeId));
      return 'self_trade';
    }
    if (order.status === 'APPROVED') {
      if (state !== 'awaiting_funding') return 'nothing';
      order = await this.paypal.authorizeOrder(order.orderId, stepRequestId(tradeId, 'authorize'));
    }
    if (!order.authorizationId) return 'nothing';
    const authorizationId = order.authorizationId;
    if (state !== 'awaiting_funding') {
      if (state === 'cancelled' || state === 'expired') {
        await this.voidLate(tradeId, authorizationId);
        return 'voided';
      }
      return 'nothing';
    }
    // Decided under the trade's row lock: another check (another worker) may have funded it meanwhile,
    // and only a trade that really ended has its authorization voided.
    const outcome = await this.transactions.run(async (manager) => {
      const locked = await this.fundings.lockAndRecordAuthorization(manager, tradeId, authorizationId);
      if (locked === 'awaiting_funding') {
        // The honour-period capture's job, when it falls within the provider-work sweep's horizon; later, the sweep queues it.
        const captureInMs = honorCaptureDelayMs(this.paypalSettings.honorPeriodMs);
        const capture = queuedWhenSet(captureInMs, this.config.providerWorkSweepEveryMs)
          ? [honorCaptureMessage(tradeId, captureInMs, this.config.providerPollEveryMs)]
          : [];
        await this.tradesService.confirmFunding(manager, tradeId, { provider: 'paypal', orderId: order.orderId, authorizationId }, capture);
        return 'funded' as const;
      }
      return locked === 'cancelled' || locked === 'expired' ? ('ended' as const) : ('nothing' as const);
    });
    if (outcome === 'ended') {
      await this.voidLate(tradeId, authorizationId);
      return 'voided';
    }
    if (outcome === 'funded') await this.poll.dropFunded(tradeId);
    return outcome;
  }

  private payerIsCounterparty(counterpartyIndex: string | null, payerEmail: string): boolean {
    if (counterpartyIndex === null) return false;
    return this.encryption.matchesBlindIndex(normalizeEmail(payerEmail), HANDLE_CONTEXT.paypalEmail, counterpartyIndex);
  }

  private async voidLate(tradeId: string, authorizationId: string): Promise<void> {
    try {
      await this.paypal.voidAuthorization(authorizationId, stepRequestId(tradeId, 'void'));
      this.logger.log({ tradeId }, 'Late authorization voided');
    } catch (error) {
      const issue = (error as { issue?: string }).issue;
      if (issue !== 'PREVIOUSLY_VOIDED') throw error;
    }
  }
}
