import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { AuditRepository } from '../audit/audit.repository';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { Cursors } from '../common/http/cursors';
import { Page, pageSize, PageQuery, toPage } from '../common/http/pagination';
import { chatConfig } from '../config';
import { TERMINAL_STATES } from '../trades/trade.state-machine';
import type { Trade } from '../trades/trade.types';
import { TradeReadsRepository } from '../trades/trade-reads.repository';
import { TradeEvents } from '../trades/trade-events';
import { OperatorStandingRepository } from '../users/operator-standing.repository';
import { UsersRepository } from '../users/users.repository';
import { ChatRepository } from './chat.repository';
import type { MessageView } from './dto/chat.dto';
import type { Message, SenderKind } from './message-content';
import { presentMessage } from './message.presenter';
import { Transactions } from '../database/transactions';
import { SenderTurns } from './sender-turns';

const isMessageCursor = (v: unknown): v is { m: string } =>
  typeof (v as { m?: unknown })?.m === 'string' && /^\d{1,18}$/.test((v as { m: string }).m);

/**
 * Trade chat: the two parties' messages about one trade, posted while it is live and for MESSAGE_WINDOW_AFTER_END_MS
 * after it ended (409 `trade_closed` later); read by its parties, and by operators once the trade has had a dispute,
 * each operator's read audited. Texts are encrypted at rest and never logged.
 */
@Injectable()
export class ChatService {
  private readonly turns = new SenderTurns();

  constructor(
    private readonly transactions: Transactions,
    private readonly messages: ChatRepository,
    private readonly trades: TradeReadsRepository,
    private readonly tradeEvents: TradeEvents,
    private readonly users: UsersRepository,
    private readonly audit: AuditRepository,
    private readonly standing: OperatorStandingRepository,
    @Inject(chatConfig.KEY) private readonly config: ConfigType<typeof chatConfig>,
    private readonly cursors: Cursors,
  ) {}

  async post(caller: AuthUser, tradeId: string, text: string): Promise<MessageView> {
    const trade = await this.trades.find(tradeId);
    const kind = trade && senderKindOf(caller, trade);
    if (!trade || !kind) throw DomainError.notFound('Trade');
    const limit = this.config.messagesPerMinute;
    // The sender's posts in this process one at a time, each waiting before it takes a connection (sender-turns.ts).
    const stored = this.turns.run(caller.id, limit, () => this.store(caller, tradeId, trade, kind, text));
    if (!stored) throw rateLimited(limit);
    return presentMessage(await stored);
  }

  private store(caller: AuthUser, tradeId: string, trade: Trade, kind: SenderKind, text: string): Promise<Message> {
    return this.transactions.run(async (manager) => {
      // The sender's row (lock order 3, before the trade's key share the insert takes): an account deleted or
      // suspended since the guard read it is seen here; a deletion waiting on this lock erases this message too.
      const sender = await this.users.lockActor(manager, caller.id);
      if (!sender) throw new DomainError('unauthenticated', 'The account no longer exists');
      // Suspended users may only act on their live trades (API.md): no more messages once the trade ended. The
      // state read above may be stale (an end committed since): the insert checks again on the trade's row.
      if (sender.suspended && TERMINAL_STATES.includes(trade.state)) throw suspendedError();
      // The sender's posts one at a time from here, across processes too, so concurrent ones cannot all count under the limit.
      await this.messages.serializeSender(manager, caller.id);
      const recent = await this.messages.postedInLastMinute(manager, caller.id, this.config.messagesPerMinute);
      if (recent >= this.config.messagesPerMinute) throw rateLimited(this.config.messagesPerMinute);
      const result = await this.messages.insert(manager, {
        tradeId,
        sender: { kind, id: caller.id, suspended: sender.suspended },
        text,
        windowAfterEndMs: this.config.messageWindowAfterEndMs,
      });
      if ('stored' in result) {
        await this.tradeEvents.recordMessage(manager, tradeId, result.stored.id);
        return result.stored;
      }
      if (result.refused === 'account_suspended') throw suspendedError();
      if (result.refused === 'not_found') throw DomainError.notFound('Trade');
      throw new DomainError('trade_closed', 'The trade ended too long ago: it takes no more messages', {
        windowAfterEndMs: this.config.messageWindowAfterEndMs,
      });
    });
  }

  /** Oldest first. Parties read; an operator reads once the trade has had a dispute, and each read is audited. */
  async list(caller: AuthUser, tradeId: string, query: PageQuery): Promise<Page<MessageView>> {
    const limit = pageSize(query);
    // One trade's chat: a cursor of another trade's is not this list's.
    const cursors = this.cursors.of(`messages:${tradeId}`, isMessageCursor);
    const after = query.cursor ? cursors.decode(query.cursor).m : undefined;
    const trade = await this.trades.find(tradeId);
    if (!trade) throw DomainError.notFound('Trade');
    let rows: Message[];
    if (caller.role === 'operator') {
      // A chat is the parties' own: operators see it only as evidence in a dispute.
      if (!(await this.messages.hadDispute(tradeId))) throw DomainError.notFound('Trade');
      rows = await this.transactions.run(async (manager) => {
        // The operator's own row first: one suspended since the guard read them reads nothing.
        await this.standing.lockActive(manager, caller.id);
        const read = await this.messages.list(tradeId, limit + 1, after, manager);
        const shown = read.slice(0, limit);
        await this.audit.record(manager, {
          operatorId: caller.id,
          action: 'trade.read_messages',
          targetType: 'trade',
          targetId: tradeId,
          tradeId,
          // Which messages were shown, never what they say.
          detail: { messages: shown.length, firstSeq: shown[0]?.seq ?? null, lastSeq: shown.at(-1)?.seq ?? null },
        });
        return read;
      });
    } else {
      if (!senderKindOf(caller, trade)) throw DomainError.notFound('Trade');
      rows = await this.messages.list(tradeId, limit + 1, after);
    }
    return toPage(rows, limit, presentMessage, (m) => ({ m: m.seq }), cursors);
  }
}

const rateLimited = (perMinute: number) => DomainError.rateLimited(`At most ${perMinute} messages a minute`, 60);

const suspendedError = () => new DomainError('account_suspended', 'The account is suspended: it may only act on its live trades');

function senderKindOf(caller: AuthUser, trade: Trade): SenderKind | null {
  if (caller.id === trade.travelerId) return 'traveler';
  if (caller.id === trade.counterpartyId) return 'counterparty';
  return null;
}
