import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository';
import { safeErrorForLog } from '../common/errors';
import { authConfig } from '../config';
import { AccountEventsRepository, AccountSecuritySummary, SelfTradeTarget } from './account-events.repository';
import { Transactions } from '../database/transactions';

/**
 * Trades refused as self-trades, kept for operators: a refusal says the caller's WeChat wallet is the maker's,
 * which someone probing for another user's wallet would be after. Each refusal is recorded (caller, request or
 * offer, time); at `SELF_TRADE_FLAG_AFTER` within `SELF_TRADE_FLAG_WINDOW_MS` the user is flagged once, with an
 * entry in the audit log (no operator: the system's) and on their operator view. These records are operators'
 * alone: the user's own export leaves them out (AccountExportService).
 */
@Injectable()
export class SelfTradeWatch {
  private readonly logger = new Logger(SelfTradeWatch.name);

  constructor(
    private readonly transactions: Transactions,
    private readonly events: AccountEventsRepository,
    private readonly audit: AuditRepository,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  /**
   * Records a refusal after the caller's answer is decided, without the answer waiting for it: in a transaction
   * of its own (the refused trade's was rolled back), not awaited, its failure logged. Whether and how long it
   * writes must not show in the answer of someone probing whether their wallet matched.
   */
  noteRefusal(userId: string, target: SelfTradeTarget): void {
    this.recordRefusal(userId, target).catch((error: unknown) =>
      this.logger.error({ error: safeErrorForLog(error), userId }, 'A self-trade refusal could not be recorded'),
    );
  }

  /** In a transaction of its own. */
  async recordRefusal(userId: string, target: SelfTradeTarget): Promise<void> {
    await this.transactions.run((manager) => this.recordRefusalIn(manager, userId, target));
  }

  /** In the caller's transaction: a self-trade found later (at funding) is recorded with the trade's cancellation. */
  async recordRefusalIn(manager: EntityManager, userId: string, target: SelfTradeTarget): Promise<void> {
    const refusals = await this.events.recordSelfTradeRefusal(manager, userId, target, this.auth.selfTradeFlagWindowMs);
    if (refusals < this.auth.selfTradeFlagAfter) return;
    if (!(await this.events.flagSelfTrades(manager, userId))) return;
    await this.audit.record(manager, {
      operatorId: null,
      action: 'user.flagged',
      targetType: 'user',
      targetId: userId,
      detail: { reason: 'self_trade_refusals', refusals, windowMs: this.auth.selfTradeFlagWindowMs },
    });
  }

  summaryOf(userId: string): Promise<AccountSecuritySummary> {
    return this.events.summaryOf(userId, this.auth.selfTradeFlagWindowMs);
  }
}
