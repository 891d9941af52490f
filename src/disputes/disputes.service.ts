import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository';
import { OperatorStandingRepository } from '../users/operator-standing.repository';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { Cursors } from '../common/http/cursors';
import { Page, pageSize, toPage } from '../common/http/pagination';
import { formatAmount } from '../common/money';
import { InputParser } from '../market/market-input';
import { partyActor, SYSTEM_ACTOR, type Actor } from '../trades/trade.types';
import { TradeReadsRepository } from '../trades/trade-reads.repository';
import { TradeTimeline } from '../trades/trade-timeline';
import { TradeEvents } from '../trades/trade-events';
import { assertSplitFits, TradeTransitionsService } from '../trades/trade-transitions.service';
import { isTimeCursor } from '../common/http/time-cursor';
import type { Dispute, DisputeReason, Statement } from './dispute.types';
import { STATEMENT_LIMITS } from './dispute.types';
import { DisputesRepository } from './disputes.repository';
import type {
  AssignDisputeDto,
  DisputeQueueQuery,
  DisputeView,
  OpenDisputeDto,
  QueueItemView,
  ResolveDisputeDto,
  StatementDto,
  StatementView,
} from './dto/disputes.dto';
import { Transactions } from '../database/transactions';

export const presentStatement = (s: Statement): StatementView => ({
  id: s.id,
  author: s.author,
  text: s.text,
  erased: s.erased,
  attachments: s.attachments,
  createdAt: s.createdAt.toISOString(),
});

export function presentDispute(dispute: Dispute): DisputeView {
  return {
    id: dispute.id,
    tradeId: dispute.tradeId,
    status: dispute.status,
    reason: dispute.reason,
    openedBy: dispute.openedBy,
    assignedTo: dispute.assignedTo,
    outcome: dispute.outcome,
    travelerUsd: dispute.travelerUsd === null ? null : formatAmount(dispute.travelerUsd, 'USD'),
    counterpartyUsd: dispute.counterpartyUsd === null ? null : formatAmount(dispute.counterpartyUsd, 'USD'),
    createdAt: dispute.createdAt.toISOString(),
    updatedAt: dispute.updatedAt.toISOString(),
    resolvedAt: dispute.resolvedAt?.toISOString() ?? null,
    resolutionNote: dispute.resolutionNote,
  };
}

/**
 * Disputes: opened by a party (or by the system when verification fails) from `funded` or `payout_sent`,
 * with statements from both parties until resolved; worked by operators, who take one and decide it. Every
 * change commits in one transaction with the trade's transition, its timeline event and the audit row.
 */
@Injectable()
export class DisputesService {
  constructor(
    private readonly transactions: Transactions,
    private readonly disputes: DisputesRepository,
    private readonly trades: TradeReadsRepository,
    private readonly timeline: TradeTimeline,
    private readonly tradesService: TradeTransitionsService,
    private readonly audit: AuditRepository,
    private readonly standing: OperatorStandingRepository,
    private readonly events: TradeEvents,
    private readonly cursors: Cursors,
  ) {}

  async open(caller: AuthUser, tradeId: string, body: OpenDisputeDto): Promise<DisputeView> {
    const trade = await this.trades.findForParty(caller.id, tradeId);
    if (!trade) throw DomainError.notFound('Trade');
    const actor = partyActor(trade, caller.id);
    try {
      const dispute = await this.transactions.run((manager) => this.openIn(manager, tradeId, actor, body.reason, body.statement));
      return this.get(caller, dispute.id);
    } catch (error) {
      // Two parties at once: the trade's transition lets one through; the index stops anything else.
      if ((error as { driverError?: { constraint?: string } }).driverError?.constraint === 'disputes_one_unresolved_per_trade') {
        throw new DomainError('invalid_state_transition', 'The trade already has an open dispute', { state: 'disputed' });
      }
      throw error;
    }
  }

  /**
   * The system opens a dispute (WeChat verification failed), in the caller's transaction: reason
   * `verification_failed`, the finding as its first statement and on the timeline. The finding must name no
   * payment handle (both parties see it).
   */
  async openBySystem(manager: EntityManager, tradeId: string, finding: string): Promise<Dispute> {
    // Both parties read the finding: the caller words it without payment handles; here it is only bounded.
    const text = finding.trim().slice(0, STATEMENT_LIMITS.textChars) || 'Verification failed';
    return this.openIn(manager, tradeId, SYSTEM_ACTOR, 'verification_failed', text);
  }

  private async openIn(manager: EntityManager, tradeId: string, actor: Actor, reason: DisputeReason, statement: string): Promise<Dispute> {
    const id = randomUUID();
    // The transition first: it takes the trade's row lock and refuses any state but funded or payout_sent.
    await this.tradesService.openDispute(manager, tradeId, actor, reason, id);
    const author = { kind: actor.kind as Statement['author']['kind'], id: actor.id };
    const dispute = await this.disputes.insert(manager, { id, tradeId, openedBy: author, reason });
    const first = await this.disputes.addStatement(manager, { disputeId: id, author, text: statement, attachments: [] });
    await this.timeline.disputeStatement(manager, tradeId, actor, {
      disputeId: id,
      statementId: first.id,
      ...(actor.kind === 'system' ? { finding: statement } : {}),
    });
    await this.told(manager, 'dispute.opened', dispute);
    return dispute;
  }

  /** A dispute with both sides' statements: for its parties and operators (404 for anyone else). */
  async get(caller: AuthUser, id: string): Promise<DisputeView> {
    const dispute = await this.visible(caller, id);
    const statements = await this.disputes.statements(id);
    return { ...presentDispute(dispute), statements: statements.map(presentStatement) };
  }

  async addStatement(caller: AuthUser, id: string, body: StatementDto): Promise<StatementView> {
    const dispute = await this.visible(caller, id);
    if (caller.role === 'operator') throw new DomainError('forbidden', "Statements are the parties'; operators add notes when they act");
    const trade = (await this.trades.find(dispute.tradeId))!;
    const actor: Actor = { kind: caller.id === trade.travelerId ? 'traveler' : 'counterparty', id: caller.id };
    return this.transactions.run(async (manager) => {
      const locked = (await this.disputes.find(id, manager, true))!;
      if (locked.status === 'resolved') {
        throw new DomainError('invalid_state_transition', 'The dispute is resolved; it takes no more statements', { state: 'resolved' });
      }
      if ((await this.disputes.countStatementsBy(manager, id, caller.id)) >= STATEMENT_LIMITS.statementsPerParty) {
        throw new DomainError(
          'too_many_statements',
          `A party may add at most ${STATEMENT_LIMITS.statementsPerParty} statements to a dispute`,
        );
      }
      const statement = await this.disputes.addStatement(manager, {
        disputeId: id,
        author: { kind: actor.kind as Statement['author']['kind'], id: caller.id },
        text: body.text,
        attachments: (body.attachments ?? []).map((a) => ({
          name: a.name,
          contentType: a.contentType,
          sizeBytes: a.sizeBytes,
          sha256: a.sha256,
        })),
      });
      await this.timeline.disputeStatement(manager, dispute.tradeId, actor, {
        disputeId: id,
        statementId: statement.id,
        attachments: statement.attachments.length,
      });
      await this.told(manager, 'dispute.statement_added', locked);
      return presentStatement(statement);
    });
  }

  /** The operators' queue: oldest first, each with its trade in brief and its age; `assignedTo`: one operator's only. */
  async queue(query: DisputeQueueQuery, assignedTo?: string): Promise<Page<QueueItemView>> {
    const limit = pageSize(query);
    const cursors = this.cursors.of('dispute-queue', isTimeCursor);
    const after = query.cursor ? cursors.decode(query.cursor) : undefined;
    const rows = await this.disputes.queue(query.status, limit + 1, after && { createdAt: after.t, id: after.id }, assignedTo);
    const now = Date.now();
    return toPage(
      rows,
      limit,
      (row) => ({
        ...presentDispute(row),
        ageSeconds: Math.floor((now - row.createdAt.getTime()) / 1000),
        trade: {
          id: row.tradeId,
          state: row.trade.state,
          amountUsd: formatAmount(row.trade.amountUsd, 'USD'),
          amountCny: formatAmount(row.trade.amountCny, 'CNY'),
          paymentMethod: row.trade.paymentMethod,
          travelerId: row.trade.travelerId,
          counterpartyId: row.trade.counterpartyId,
        },
      }),
      (row) => ({ t: row.createdAt.toISOString(), id: row.id }),
      cursors,
    );
  }

  /** An operator takes a dispute; one held by another operator only with `force` (a takeover, audited as such). */
  async assign(operator: AuthUser, id: string, body: AssignDisputeDto): Promise<DisputeView> {
    await this.transactions.run(async (manager) => {
      const dispute = await this.disputes.find(id, manager, true);
      if (!dispute) throw DomainError.notFound('Dispute');
      // The operator's own row after the dispute's (lock order 2, 3): one suspended since the guard read them is refused.
      await this.standing.lockActive(manager, operator.id);
      if (dispute.status === 'resolved')
        throw new DomainError('invalid_state_transition', 'The dispute is resolved', { state: 'resolved' });
      if (dispute.assignedTo === operator.id) return;
      const takeover = dispute.assignedTo !== null;
      if (takeover && !body.force) {
        throw new DomainError('dispute_assigned', 'Another operator holds this dispute; take it over with force: true', {
          state: dispute.status,
        });
      }
      await this.disputes.assign(manager, id, operator.id);
      await this.recordOperatorAction(manager, operator, dispute, takeover ? 'dispute.takeover' : 'dispute.assign', {
        ...(takeover ? { previousOperatorId: dispute.assignedTo } : {}),
      });
    });
    return this.get(operator, id);
  }

  /**
   * An operator decides: release, refund, or split with two amounts above zero adding up to the trade's USD.
   * The dispute row's lock makes it once: a second or concurrent resolution gets 409 and changes nothing.
   */
  async resolve(operator: AuthUser, id: string, body: ResolveDisputeDto): Promise<DisputeView> {
    const decision = this.decisionOf(body);
    await this.transactions.run(async (manager) => {
      const dispute = await this.disputes.find(id, manager, true);
      if (!dispute) throw DomainError.notFound('Dispute');
      const trade = (await this.trades.find(dispute.tradeId, manager))!;
      // The operator's row with the parties', in id order (lock order 3, as the transition takes them): an
      // operator suspended since the guard read them moves no money.
      await this.standing.lockActive(manager, operator.id, [trade.travelerId, trade.counterpartyId]);
      assertDecidable(operator, dispute, decision, trade.amountUsd);
      await this.tradesService.resolveDispute(manager, dispute.tradeId, operator.id, decision);
      await this.disputes.resolve(manager, id, {
        operatorId: operator.id,
        outcome: decision.outcome,
        travelerUsd: decision.outcome === 'split' ? decision.travelerUsd : null,
        counterpartyUsd: decision.outcome === 'split' ? decision.counterpartyUsd : null,
        note: body.note,
      });
      await this.recordOperatorAction(manager, operator, dispute, 'dispute.resolve', {
        outcome: decision.outcome,
        ...(decision.outcome === 'split'
          ? { travelerUsd: formatAmount(decision.travelerUsd, 'USD'), counterpartyUsd: formatAmount(decision.counterpartyUsd, 'USD') }
          : {}),
        note: body.note,
      });
      await this.told(manager, 'dispute.resolved', (await this.disputes.find(id, manager))!);
    });
    return this.get(operator, id);
  }

  /**
   * The checks `resolve` makes, without deciding: the decision parsed (amounts to the cent), a split's parts
   * added up against the trade, the dispute not resolved and not held by another operator. The console runs it
   * before showing a decision for confirmation; `resolve` runs the same checks again under the dispute's lock.
   */
  async checkDecision(operator: AuthUser, id: string, body: ResolveDisputeDto): Promise<DisputeDecision> {
    const decision = this.decisionOf(body);
    const dispute = await this.disputes.find(id);
    if (!dispute) throw DomainError.notFound('Dispute');
    const trade = (await this.trades.find(dispute.tradeId))!;
    assertDecidable(operator, dispute, decision, trade.amountUsd);
    return decision;
  }

  /**
   * The parties' event of a dispute's change, in its transaction: the trade as it is now and the dispute in brief,
   * never a statement's text (statements are encrypted at rest; a party reads them from the dispute).
   */
  private async told(manager: EntityManager, type: 'dispute.opened' | 'dispute.statement_added' | 'dispute.resolved', dispute: Dispute) {
    const trade = (await this.trades.find(dispute.tradeId, manager))!;
    await this.events.record(manager, type, trade, { disputeId: dispute.id, data: { dispute: presentDispute(dispute) } });
  }

  private decisionOf(body: ResolveDisputeDto): DisputeDecision {
    if (body.outcome !== 'split') {
      const given = (['travelerUsd', 'counterpartyUsd'] as const).filter((field) => body[field] !== undefined);
      if (given.length > 0) {
        throw DomainError.validation(
          given.map((field) => ({ field, code: 'not_allowed', message: `Amounts belong to a split, not a ${body.outcome}` })),
        );
      }
      return { outcome: body.outcome };
    }
    const input = new InputParser();
    const travelerUsd = input.amount(body.travelerUsd, 'travelerUsd', 'USD');
    const counterpartyUsd = input.amount(body.counterpartyUsd, 'counterpartyUsd', 'USD');
    input.done();
    return { outcome: 'split', travelerUsd, counterpartyUsd };
  }

  /** The audit row and the trade's timeline event of an operator's action, in its transaction. */
  private async recordOperatorAction(
    manager: EntityManager,
    operator: AuthUser,
    dispute: Dispute,
    action: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.record(manager, {
      operatorId: operator.id,
      action,
      targetType: 'dispute',
      targetId: dispute.id,
      tradeId: dispute.tradeId,
      detail,
    });
    await this.timeline.operatorNote(manager, dispute.tradeId, operator.id, { action, disputeId: dispute.id, ...detail });
  }

  private async visible(caller: AuthUser, id: string): Promise<Dispute> {
    const dispute = await this.disputes.find(id);
    if (!dispute) throw DomainError.notFound('Dispute');
    if (caller.role === 'operator') return dispute;
    if (!(await this.trades.findForParty(caller.id, dispute.tradeId))) throw DomainError.notFound('Dispute');
    return dispute;
  }
}

/** A resolution as decided: a split's parts in minor units. */
export type DisputeDecision = { outcome: 'release' | 'refund' } | { outcome: 'split'; travelerUsd: bigint; counterpartyUsd: bigint };

function assertDecidable(operator: AuthUser, dispute: Dispute, decision: DisputeDecision, amountUsd: bigint): void {
  // A split that cannot add up is bad input whatever the dispute's state: API.md puts 400 before 409.
  if (decision.outcome === 'split') assertSplitFits(decision, amountUsd);
  if (dispute.status === 'resolved') throw new DomainError('invalid_state_transition', 'The dispute is resolved', { state: 'resolved' });
  if (dispute.assignedTo !== null && dispute.assignedTo !== operator.id) {
    throw new DomainError('dispute_assigned', 'Another operator holds this dispute; take it over first', { state: dispute.status });
  }
}
