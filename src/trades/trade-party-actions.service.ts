import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { tradesConfig } from '../config';
import { OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { TradeView } from './dto/trades.dto';
import { TradeMoves } from './trade-moves';
import { TradeQueriesService } from './trade-queries.service';
import { partyActor } from './trade.types';
import { TradesRepository } from './trades.repository';
import { verifyPayoutJobId } from '../queues/job-ids';
import { keepVerifying } from '../queues/retry-policies';
import { Transactions } from '../database/transactions';

/**
 * What the parties do to a trade over HTTP: cancel it before funding, report the WeChat payout, confirm the
 * RMB arrived. Each is one transaction through `TradeMoves.move`, answered as the party sees the trade.
 */
@Injectable()
export class TradePartyActionsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly trades: TradesRepository,
    private readonly moves: TradeMoves,
    private readonly queries: TradeQueriesService,
    private readonly outbox: OutboxService,
    @Inject(tradesConfig.KEY) private readonly config: ConfigType<typeof tradesConfig>,
  ) {}

  /** `awaiting_funding` → `cancelled`, by either party. The amount goes back to the market and the volume to the day. */
  async cancel(caller: AuthUser, id: string): Promise<TradeView> {
    const trade = await this.queries.visible(caller, id);
    const actor = partyActor(trade, caller.id);
    const cancelled = await this.transactions.run(async (manager) => {
      const locked = await this.trades.lockForEnding(manager, trade);
      const moved = await this.moves.move(manager, locked.trade, 'cancelled', actor, { reason: 'cancelled_by_party' });
      await this.moves.endUncompleted(manager, locked, caller.id);
      return moved;
    });
    return this.queries.present(caller, cancelled);
  }

  /** The traveler says the RMB arrived: `funded` or `payout_sent` → `releasing`. */
  async confirmReceipt(caller: AuthUser, id: string): Promise<TradeView> {
    const trade = await this.queries.visible(caller, id);
    if (caller.id !== trade.travelerId) throw new DomainError('forbidden', "Only the trade's traveler confirms receipt");
    const moved = await this.transactions.run(async (manager) => {
      const actor = partyActor(trade, caller.id);
      return this.moves.move(manager, trade, 'releasing', actor, { reason: 'receipt_confirmed' }, {}, [
        this.moves.settlementJob(id, 'releasing'),
      ]);
    });
    return this.queries.present(caller, moved);
  }

  /**
   * The counterparty reports the WeChat transfer: `funded` → `payout_sent`. One transfer id settles one trade
   * (a unique index: 409 `wechat_transfer_used`). A verification job then asks WeChat about the transfer.
   */
  async reportPayout(caller: AuthUser, id: string, wechatTransferId: string): Promise<TradeView> {
    const trade = await this.queries.visible(caller, id);
    if (caller.id !== trade.counterpartyId) throw new DomainError('forbidden', "Only the trade's counterparty reports the payout");
    try {
      return await this.transactions.run(async (manager) => {
        const reported = await this.moves.move(
          manager,
          trade,
          'payout_sent',
          partyActor(trade, caller.id),
          { wechatTransferId },
          { payoutReported: { wechatTransferId, verifyWithinMs: this.config.verifyTimeoutMs } },
          // The verification job asks WeChat about the transfer until it verifies, fails, or the deadline passes.
          [
            {
              queue: QUEUES.verification,
              jobName: JOBS.verification.verifyPayout,
              jobId: verifyPayoutJobId(trade.id),
              payload: { tradeId: trade.id },
              retry: keepVerifying(this.config.providerPollEveryMs),
            },
          ],
        );
        // The answer shows the counterparty the traveler's WeChat id: its first showing in `payout_sent` commits with the report.
        return this.queries.presentChanged(manager, caller, reported);
      });
    } catch (error) {
      if ((error as { driverError?: { constraint?: string } }).driverError?.constraint === 'trades_wechat_transfer_key') {
        throw new DomainError('wechat_transfer_used', 'This WeChat transfer already settles another trade');
      }
      throw error;
    }
  }
}
