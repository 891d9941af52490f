import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user';
import { formatAmount, parseAmount } from '../common/money';
import { ChatService } from '../chat/chat.service';
import type { MessageView } from '../chat/dto/chat.dto';
import { DisputesService } from '../disputes/disputes.service';
import type { DisputeView } from '../disputes/dto/disputes.dto';
import type { TradeEventView, TradeView } from '../trades/dto/trades.dto';
import { TradeQueriesService } from '../trades/trade-queries.service';
import { AdminUsersService, type AdminUserView } from '../users/admin-users.service';

/** Everything the dispute page shows, read through the same services as the admin API. */
export interface DisputeFile {
  dispute: DisputeView;
  trade: TradeView;
  /** What the counterparty is paid on a release: the trade's USD less its fee. */
  netToCounterpartyUsd: string;
  traveler: AdminUserView;
  counterparty: AdminUserView;
  timeline: TradeEventView[];
  /** The providers' ids of the trade's money, from its timeline. */
  references: { name: string; value: string }[];
  /** The trade chat, when the operator asked to read it (each read is audited by the chat service). */
  chat: { messages: MessageView[]; more: boolean } | null;
}

const REFERENCE_KEYS = [
  'orderId',
  'authorizationId',
  'captureId',
  'payoutBatchId',
  'refundId',
  'refundedCapture',
  'voided',
  'reference',
  'transferId',
  'returnId',
  'wechatTransferId',
];
const TIMELINE_PAGE = 100;
const TIMELINE_PAGES = 20;
const CHAT_MESSAGES = 100;

@Injectable()
export class DisputeFiles {
  constructor(
    private readonly disputes: DisputesService,
    private readonly trades: TradeQueriesService,
    private readonly users: AdminUsersService,
    private readonly chat: ChatService,
  ) {}

  /** The dispute (404 for an unknown id) with its trade, parties, timeline and, when asked, its chat. */
  async read(operator: AuthUser, id: string, options: { chat: boolean }): Promise<DisputeFile> {
    const dispute = await this.disputes.get(operator, id);
    const trade = await this.trades.get(operator, dispute.tradeId);
    const [traveler, counterparty, timeline] = await Promise.all([
      this.users.view(trade.travelerId),
      this.users.view(trade.counterpartyId),
      this.timelineOf(operator, trade.id),
    ]);
    let chat: DisputeFile['chat'] = null;
    if (options.chat) {
      const page = await this.chat.list(operator, trade.id, { limit: CHAT_MESSAGES });
      chat = { messages: page.data, more: page.nextCursor !== null };
    }
    return {
      dispute,
      trade,
      netToCounterpartyUsd: formatAmount(parseAmount(trade.amountUsd, 'USD') - parseAmount(trade.feeUsd, 'USD'), 'USD'),
      traveler,
      counterparty,
      timeline,
      references: referencesOf(timeline),
      chat,
    };
  }

  /** The whole timeline, oldest first, a page at a time (bounded: a trade has tens of events, not thousands). */
  private async timelineOf(operator: AuthUser, tradeId: string): Promise<TradeEventView[]> {
    const events: TradeEventView[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < TIMELINE_PAGES; i++) {
      const page = await this.trades.events(operator, tradeId, { limit: TIMELINE_PAGE, cursor });
      events.push(...page.data);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return events;
  }
}

function referencesOf(timeline: TradeEventView[]): { name: string; value: string }[] {
  const seen = new Map<string, { name: string; value: string }>();
  for (const event of timeline) {
    const provider = typeof event.detail.provider === 'string' ? `${event.detail.provider} ` : '';
    for (const key of REFERENCE_KEYS) {
      const value = event.detail[key];
      if (typeof value !== 'string' || value.length === 0) continue;
      const name = `${provider}${key}`;
      seen.set(`${name}=${value}`, { name, value });
    }
  }
  return [...seen.values()];
}
