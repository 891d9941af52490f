import { Injectable } from '@nestjs/common';
import { AuditRepository } from '../audit/audit.repository';
import { OperatorStandingRepository } from '../users/operator-standing.repository';
import type { AuthUser } from '../common/auth/auth-user';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { HandleField, HandleRevealsRepository } from '../trades/handle-reveals.repository';
import { TradeTimeline } from '../trades/trade-timeline';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';
import { Transactions } from '../database/transactions';

export const REVEAL_REASON_MAX_CHARS = 500;

export interface RevealView {
  field: HandleField;
  value: string;
}

const CONTEXT: Record<HandleField, string> = {
  travelerWechatId: HANDLE_CONTEXT.wechatId,
  counterpartyWechatId: HANDLE_CONTEXT.wechatId,
  counterpartyPaypalEmail: HANDLE_CONTEXT.paypalEmail,
};

/**
 * An operator's explicit reveal of one of a trade's payment handles (API.md): with a reason, in one transaction
 * with its audit row (the field and the reason, never the value) and a `handle_revealed` event on the trade's
 * timeline (the field and the operator, never the value). Every call is a reveal of its own: the route is never
 * answered from idempotency storage. A handle erased after retention is gone: 409 `handle_erased`, nothing revealed.
 */
@Injectable()
export class OperatorReveals {
  constructor(
    private readonly transactions: Transactions,
    private readonly reveals: HandleRevealsRepository,
    private readonly timeline: TradeTimeline,
    private readonly audit: AuditRepository,
    private readonly encryption: FieldEncryption,
    private readonly standing: OperatorStandingRepository,
  ) {}

  async reveal(operator: AuthUser, tradeId: string, field: HandleField, reason: string): Promise<RevealView> {
    return this.transactions.run(async (manager) => {
      // The operator's own row first: one suspended since the guard read them reveals nothing.
      await this.standing.lockActive(manager, operator.id);
      const kept = await this.reveals.kept(manager, tradeId, field);
      if (!kept) throw DomainError.notFound('Trade');
      if (!kept.handle) {
        throw new DomainError('handle_erased', "The trade's payment handles were erased after their retention period", {
          erasedAt: kept.erasedAt?.toISOString() ?? null,
        });
      }
      const value = this.encryption.decrypt(kept.handle, CONTEXT[field]);
      await this.audit.record(manager, {
        operatorId: operator.id,
        action: 'trade.reveal_handle',
        targetType: 'trade',
        targetId: tradeId,
        tradeId,
        detail: { field, reason, state: kept.state },
      });
      await this.timeline.handleRevealed(manager, tradeId, operator.id, {
        field,
        to: 'operator',
        operatorId: operator.id,
        state: kept.state,
      });
      return { field, value };
    });
  }
}
