import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { tradesConfig } from '../config';
import { randomUUID } from 'node:crypto';
import { AuditRepository } from '../audit/audit.repository';
import { OperatorStandingRepository } from '../users/operator-standing.repository';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { Page } from '../common/http/pagination';
import { OutboxService } from '../outbox/outbox.service';
import { FundingRepository } from '../payments/funding/funding.repository';
import { JOBS, QUEUES } from '../queues/queue-names';
import { settleRetryJobId } from '../queues/job-ids';
import { keepTrying } from '../queues/retry-policies';
import { TradeView } from '../trades/dto/trades.dto';
import { presentTrade } from '../trades/trade.presenter';
import { TradeReadsRepository } from '../trades/trade-reads.repository';
import { TradeTimeline } from '../trades/trade-timeline';
import { SETTLING_STATES } from '../trades/trade.state-machine';
import { tradesPage } from '../trades/trades-page';
import { isTradeCursor } from '../trades/trade-position';
import { Cursors } from '../common/http/cursors';
import type { AdminTradesQuery } from './dto/admin-trades.dto';
import { Transactions } from '../database/transactions';

@Injectable()
export class AdminTradesService {
  constructor(
    private readonly transactions: Transactions,
    private readonly trades: TradeReadsRepository,
    private readonly timeline: TradeTimeline,
    private readonly fundings: FundingRepository,
    private readonly outbox: OutboxService,
    private readonly audit: AuditRepository,
    private readonly standing: OperatorStandingRepository,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
    private readonly cursors: Cursors,
  ) {}

  async list(query: AdminTradesQuery): Promise<Page<TradeView>> {
    const filter = { state: query.state, settlementFailing: query.settlementFailing };
    return tradesPage(query, this.cursors.of('admin-trades', isTradeCursor), (limit, after) =>
      this.trades.listForOperators(filter, limit, after),
    );
  }

  /**
   * Tries a settling trade's settlement again now, audited. Each step keeps its request id, so nothing is
   * paid twice. For an ended trade whose payout came back, it starts the next payout attempt (its own
   * request id), paid to the counterparty's PayPal email on file; for one whose bank refund came back, the
   * next return to the sender.
   */
  async retrySettlement(operator: AuthUser, tradeId: string): Promise<TradeView> {
    const trade = await this.trades.find(tradeId);
    if (!trade) throw DomainError.notFound('Trade');
    await this.transactions.run(async (manager) => {
      // The operator's own row first (lock order 3, before the trade's): one suspended since the guard read them
      // starts no payout or refund.
      await this.standing.lockActive(manager, operator.id);
      // The trade's row before its funding record, as settlement and funding take them.
      await this.trades.lockState(manager, tradeId);
      const ended = !SETTLING_STATES.includes(trade.state);
      // Every leg that came back starts its next attempt (a split may have both); a flagged trade whose
      // attempt is still under way is simply looked at again.
      const payoutAgain = ended && (await this.fundings.startNextAttempt(manager, tradeId, 'payout'));
      const refundAgain = ended && (await this.fundings.startNextAttempt(manager, tradeId, 'refund'));
      if (ended && !payoutAgain && !refundAgain && !trade.settlementFailing) {
        throw new DomainError(
          'invalid_state_transition',
          `The trade is ${trade.state}; only a settling trade, or one whose payout or refund came back, is settled again`,
          { state: trade.state },
        );
      }
      await this.outbox.write(manager, {
        queue: QUEUES.settlement,
        jobName: JOBS.settlement.settleTrade,
        jobId: settleRetryJobId(tradeId, randomUUID()),
        payload: { tradeId },
        retry: keepTrying(this.config.providerPollEveryMs),
      });
      await this.audit.record(manager, {
        operatorId: operator.id,
        action: 'trade.retry_settlement',
        targetType: 'trade',
        targetId: tradeId,
        tradeId,
        detail: { payoutAgain, refundAgain },
      });
      // Operator actions show on the trade's timeline too.
      await this.timeline.operatorNote(manager, tradeId, operator.id, { action: 'trade.retry_settlement', payoutAgain, refundAgain });
    });
    return presentTrade((await this.trades.find(tradeId))!);
  }
}
